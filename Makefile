# Lantern: `make run` serves on 127.0.0.1:8000, `make test` runs the suite; both set up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export LANTERN_TEST_DATABASE_URL
# pytest keeps the test modules it rewrites (for its assertion messages) in __pycache__; with
# PYTHONDONTWRITEBYTECODE set, as on some machines, it would rewrite all of them on every run.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

.PHONY: install migrate dev-keys run worker test test-all test-browser screenshots lint openapi openapi-check readme bench clean prism

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

dev-keys: install
	@if [ -z "$$LANTERN_KEYS_FILE$$LANTERN_KEKS" ] && [ ! -f instance/dev-keys.json ]; then \
		$(BIN)/lantern keys generate --file instance/dev-keys.json; \
		echo "WARNING: development keys in instance/dev-keys.json: never use them for real survivors"; \
	fi

migrate: dev-keys
	$(BIN)/lantern db upgrade

# One process, several threads (SQLite has one writer; see the README for running several on
# PostgreSQL). The app is told the address it serves at, so that a partner webhook can never be
# pointed back at it.
BIND := 127.0.0.1:8000
SELF := LANTERN_PUBLIC_BASE_URL="$${LANTERN_PUBLIC_BASE_URL:-http://$(BIND)}"

run: migrate
	$(SELF) $(BIN)/gunicorn -c python:api.gunicorn_conf --bind $(BIND) --workers 1 --threads 8 \
		--timeout 30 --graceful-timeout 10 --keep-alive 30 --no-control-socket wsgi:app

worker: migrate
	$(SELF) $(BIN)/lantern worker

# The fast suite: SQLite, and PostgreSQL too with LANTERN_TEST_DATABASE_URL; no e2e drills, no
# Prism, no browser, and the contract fuzzed at a third of CI's depth (tests/fuzzing.py); one
# pytest worker per core (pytest-xdist), each with databases of its own.
test: migrate
	$(PYTEST) -n auto --ignore=tests/e2e -m "not prism and not browser"

# The console in a real browser: Playwright driving Debian's Chromium (apt-get install chromium).
test-browser: migrate
	$(PYTEST) -m browser

# The same browser tests, keeping their screenshots in docs/console/ (shown in the README).
screenshots: migrate
	LANTERN_SCREENSHOTS=1 $(PYTEST) -m browser

# Everything CI runs: the fast suite with the contract fuzzed deep, the Prism mock of Twilio, the
# browser tests of the console and the end-to-end drills (real gunicorn, workers, PostgreSQL).
test-all: migrate prism
	LANTERN_FUZZ_DEPTH=deep $(PYTEST)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Prism (a mock of Twilio's own contract) for the SMS integration tests, installed into
# .prism/node_modules (git-ignored); the test session starts it on a free loopback port.
prism:
	@command -v node >/dev/null || { echo "node is required for the Twilio contract tests"; exit 1; }
	@test -x .prism/node_modules/.bin/prism || { mkdir -p .prism && cd .prism && \
		npm install --no-save --no-audit --no-fund @stoplight/prism-cli@5; }

# Whole-flow benchmarks on loopback (gunicorn + PostgreSQL + workers + stand-ins): prints one
# table and writes bench/results/<date>.json. Needs the local PostgreSQL (LANTERN_E2E_ADMIN_URL).
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

openapi: install
	$(BIN)/lantern openapi write

openapi-check: install
	$(BIN)/lantern openapi check

# The README's configuration table, regenerated from core/settings.py.
readme: install
	$(BIN)/python -c 'import pathlib, core.settings as s; p = pathlib.Path("README.md"); \
		t = p.read_text(); a, b = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"; \
		i, j = t.index(a) + len(a), t.index(b); p.write_text(t[:i] + s.configuration_table() + t[j:])'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
