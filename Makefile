# Lantern: `make run` serves on 127.0.0.1:8000, `make test` runs the suite; both set up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export LANTERN_TEST_DATABASE_URL

.PHONY: install migrate dev-keys run worker test lint openapi openapi-check bench clean

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

run: migrate
	$(BIN)/gunicorn --bind 127.0.0.1:8000 --workers 2 --threads 4 --timeout 30 \
		--graceful-timeout 10 wsgi:app

worker: migrate
	$(BIN)/lantern worker

test: migrate
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

openapi: install
	$(BIN)/lantern openapi write

openapi-check: install
	$(BIN)/lantern openapi check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
