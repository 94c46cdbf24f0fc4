"""Every package Lantern imports is declared, and every package it declares is imported.

A package that arrives only because another one depends on it today can vanish with that
package's next release; a declared package nobody imports is weight and attack surface.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PACKAGES = (
    "api",
    "web",
    "auth",
    "coordination",
    "core",
    "messaging",
    "safety_plans",
    "console",
    "migrations",
)
OWN = set(RUNTIME_PACKAGES) | {"tests", "bench", "wsgi"}
# Declared for what they are, not for an import: the server that runs ``wsgi:app`` and the
# PostgreSQL driver SQLAlchemy loads from the URL.
NOT_IMPORTED = {"gunicorn", "psycopg"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = (
        project["dependencies"] if group is None else project["optional-dependencies"][group]
    )
    return {_name(r) for r in requirements}


def _imported(paths: list[Path]) -> set[str]:
    tops: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
    return {t for t in tops if t not in sys.stdlib_module_names and t not in OWN}


def _distributions(modules: set[str]) -> set[str]:
    by_module = packages_distributions()
    found = set()
    for module in modules:
        names = by_module.get(module)
        assert names, f"{module} is imported but no installed distribution provides it"
        found.add(names[0].lower().replace("_", "-"))
    return found


def test_runtime_code_imports_exactly_what_it_declares() -> None:
    files = [p for pkg in RUNTIME_PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    files.append(ROOT / "wsgi.py")
    imported = _distributions(_imported(files))
    declared = _declared()
    assert imported - declared == set(), "imported but not declared"
    assert declared - imported - NOT_IMPORTED == set(), "declared but never imported"


def test_tests_and_bench_import_nothing_undeclared() -> None:
    files = [*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]
    imported = _distributions(_imported(files))
    declared = _declared() | _declared("dev")
    assert imported - declared == set(), "imported by tests or bench but not declared"
    # Run as commands or loaded by pytest as a plugin, never imported.
    tools = {"ruff", "mypy", "import-linter", "pytest-xdist"}
    assert _declared("dev") - imported - tools == set(), "dev dependency never used"
