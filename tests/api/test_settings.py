"""Settings: typed and validated, and every one of them documented in the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigurationError
from core.settings import Settings, configuration_table, env_name, load_settings, setting_fields

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
START, END = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
# Where LANTERN_ variables are read; each one must be in the README too. (Test modules are left
# out: a test may set a made-up variable on purpose.)
SOURCES = (
    "api",
    "web",
    "core",
    "auth",
    "safety_plans",
    "messaging",
    "coordination",
    "wsgi.py",
    "tests/conftest.py",
    "Makefile",
    ".ci/run",
)


def readme_table() -> str:
    text = README.read_text()
    return text[text.index(START) + len(START) : text.index(END)]


def test_every_setting_is_in_the_readme_table() -> None:
    rows = re.findall(r"^\| `(LANTERN_[A-Z0-9_]+)` \|", readme_table(), flags=re.MULTILINE)
    documented = set(rows)
    declared = {env_name(f.name) for f in setting_fields()}
    assert declared - documented == set(), "settings missing from the README table"
    assert documented - declared == set(), "README documents settings that do not exist"
    assert len(rows) == len(documented)  # no row twice


def test_readme_table_is_current() -> None:
    # Defaults, production requirements and meanings too, not only the names.
    assert readme_table() == configuration_table(), "run `make readme` and commit README.md"


def test_every_lantern_variable_in_the_code_is_in_the_readme() -> None:
    readme = README.read_text()
    found: set[str] = set()
    for source in SOURCES:
        path = ROOT / source
        files = [path] if path.is_file() else list(path.rglob("*.py"))
        for file in files:
            found.update(re.findall(r"\bLANTERN_[A-Z0-9_]*[A-Z0-9]\b", file.read_text()))
    assert {"LANTERN_ENV", "LANTERN_TEST_DATABASE_URL"} <= found  # the scan sees something
    missing = sorted(name for name in found if name not in readme)
    assert missing == [], f"LANTERN_ variables not in README.md: {missing}"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"LANTERN_MAX_BODY_BYTES": "abc"}, "LANTERN_MAX_BODY_BYTES"),
        ({"LANTERN_MAX_BODY_BYTES": "512"}, "LANTERN_MAX_BODY_BYTES"),
        ({"LANTERN_ENV": "staging"}, "LANTERN_ENV"),
        ({"LANTERN_DEBUG": "maybe"}, "LANTERN_DEBUG"),
        ({"LANTERN_TRUSTED_PROXIES": "-1"}, "LANTERN_TRUSTED_PROXIES"),
        ({"LANTERN_TRUSTED_PROXIES": "one"}, "LANTERN_TRUSTED_PROXIES"),
        ({"LANTERN_JOB_POLL_SECONDS": "soon"}, "LANTERN_JOB_POLL_SECONDS"),
        ({"LANTERN_JOB_BATCH_SIZE": "0"}, "LANTERN_JOB_BATCH_SIZE"),
        ({"LANTERN_LOG_LEVEL": "LOUD"}, "LANTERN_LOG_LEVEL"),
        ({"LANTERN_PUBLIC_BASE_URL": "lantern.example.org"}, "LANTERN_PUBLIC_BASE_URL"),
        ({"LANTERN_ARGON2_PARALLELISM": "0"}, "LANTERN_ARGON2_PARALLELISM"),
    ],
)
def test_invalid_values_are_refused_by_name(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(environ)
    assert variable in str(refused.value)


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"max_body_bytes": "1024"}, "LANTERN_MAX_BODY_BYTES"),
        ({"debug": 1}, "LANTERN_DEBUG"),
        ({"max_body_bytes": True}, "LANTERN_MAX_BODY_BYTES"),
        ({"env": "staging"}, "LANTERN_ENV"),
    ],
)
def test_settings_built_in_code_are_checked_too(change: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(**change)
    assert variable in str(refused.value)
    with pytest.raises(ConfigurationError):
        Settings().replace(**change)


def test_values_are_parsed_to_their_types() -> None:
    settings = load_settings(
        {
            "LANTERN_MAX_BODY_BYTES": "2048",
            "LANTERN_DEBUG": "yes",
            "LANTERN_OPENAPI_ENABLED": "0",
            "LANTERN_JOB_POLL_SECONDS": "0.5",
            "LANTERN_ENV": "test",
            "LANTERN_LOG_LEVEL": "debug",
            "UNRELATED": "ignored",
        }
    )
    assert (settings.max_body_bytes, settings.debug, settings.openapi_enabled) == (
        2048,
        True,
        False,
    )
    assert settings.job_poll_seconds == 0.5
    assert settings.env == "test"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        # mypy already refuses this assignment (frozen); the test proves it fails at run time too.
        settings.env = "production"  # type: ignore[misc]


def test_defaults_are_valid_and_hold_no_secret() -> None:
    # No secret has a default value in code (DESIGN: "a secret with a default value" is a trap).
    settings = Settings()
    for f in setting_fields():
        if f.metadata["secret"]:
            assert getattr(settings, f.name) == "", f.name
