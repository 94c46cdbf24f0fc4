"""The house rules a reviewer would otherwise check by eye (README, "Layers and rooms").

Each rule reads the source with ``ast``: a new module that breaks one fails here with its path,
before anyone has to find the break in review.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "web", "core", "auth", "safety_plans", "messaging", "coordination")
DOMAINS = ("auth", "safety_plans", "messaging", "coordination")
#: The checks that reach one survivor's record: views call them, services take their result.
RECORD_CHECKS = {"require_staff_access", "require_survivor_access"}
#: Where the record checks are defined (and may call each other).
RECORD_CHECKS_HOME = Path("auth/access/permissions.py")
#: Results a view dumps are typed; these few stay mappings because their content is free-form
#: by design, each for the reason given.
FREE_FORM_RESULTS = {
    # The audit fields the chain hashes: whatever an event records, canonically serialised.
    ("core/audit.py", "_fields"),
    # What a SQLAlchemy session carries in its ``info`` mapping (the audit chain's keys).
    ("core/audit.py", "session_info"),
    # The OpenAPI document, as the contract file holds it.
    ("api/contract.py", "contract"),
    # A pinned-keys file read from disk, checked field by field after.
    ("api/cli_journal.py", "_read_pins"),
    # An exported bundle's JSON objects, rejected when a key repeats.
    ("safety_plans/bundle.py", "_unique_keys"),
    # OpenAPI text for Twilio's form posts (a document fragment, not a result).
    ("messaging/schemas.py", "twilio_form_doc"),
}


def _modules(packages: tuple[str, ...]) -> Iterator[Path]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT)


def _is_route_module(path: Path) -> bool:
    return path.name == "routes.py" or "routes" in path.parts[:-1]


def _tree(path: Path) -> ast.Module:
    return ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=str(path))


def _service_modules() -> list[Path]:
    """Every domain module but its routes: the business rules, their models and schemas."""
    return [p for p in _modules(DOMAINS) if not _is_route_module(p)]


def _imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_every_module_stays_under_400_lines() -> None:
    long = {
        str(p): n
        for p in _modules(PACKAGES)
        if (n := len((ROOT / p).read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}


@pytest.mark.parametrize("path", _service_modules(), ids=str)
def test_services_know_nothing_of_http(path: Path) -> None:
    """Business rules are testable without a request: only routes import Flask or the edge."""
    assert _imported(_tree(path)) & {"flask", "flask_smorest", "web", "werkzeug"} == set()


def test_record_access_is_decided_in_views_only() -> None:
    """A service takes the ``SurvivorAccess`` its view obtained; it never reaches a record
    itself, so every record check is in one visible place per route."""
    calls: list[str] = []
    for path in _service_modules():
        if path == RECORD_CHECKS_HOME:
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in RECORD_CHECKS:
                    calls.append(f"{path}:{node.lineno} {name}")
    assert calls == []


def _annotation(arg: ast.arg) -> str:
    return ast.unparse(arg.annotation) if arg.annotation is not None else ""


def test_services_name_their_actor_and_collaborators() -> None:
    """No acting principal typed ``Any``, and no service handed the whole runtime (a service
    locator): it takes the collaborators it uses."""
    actors = {"principal", "actor", "access", "staff", "survivor", "partner"}
    found: list[str] = []
    for path in _service_modules():
        if path.name in {"wiring.py", "deps.py"}:
            continue  # building collaborators from the runtime is their whole job
        for fn in _functions(_tree(path)):
            args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
            for arg in args:
                annotation = _annotation(arg)
                if arg.arg in actors and annotation in {"", "Any"}:
                    found.append(f"{path}:{fn.lineno} {fn.name}({arg.arg}: {annotation or '?'})")
                if annotation == "Runtime":
                    found.append(f"{path}:{fn.lineno} {fn.name}({arg.arg}: Runtime)")
    assert found == []


def test_results_are_typed() -> None:
    """What a service answers is a dataclass or a TypedDict, not ``dict[str, Any]``."""
    found: set[tuple[str, str]] = set()
    for path in _modules(PACKAGES):
        if _is_route_module(path):
            continue
        for fn in _functions(_tree(path)):
            returns = ast.unparse(fn.returns) if fn.returns is not None else ""
            if "dict[str, Any]" in returns:
                found.add((str(path), fn.name))
    assert found - FREE_FORM_RESULTS == set()
    # The allowance is kept exact: a free-form result that became typed leaves the list.
    assert FREE_FORM_RESULTS - found == set()


@pytest.mark.parametrize(
    "package",
    [
        "auth/staff",
        "auth/survivors",
        "auth/partners",
        "auth/access",
        "safety_plans",
        "messaging",
        "messaging/checkins",
        "coordination",
    ],
)
def test_every_domain_package_has_the_same_rooms(package: str) -> None:
    """``models.py``, ``schemas.py`` and ``routes.py`` (or a ``routes/`` package) in each."""
    here = ROOT / package
    assert (here / "models.py").is_file()
    assert (here / "schemas.py").is_file()
    assert (here / "routes.py").is_file() or (here / "routes" / "__init__.py").is_file()
    names = {p.name for p in here.iterdir()}
    # The names that mean something else elsewhere are gone for good.
    assert names & {"setup.py", "ports.py", "routes_common.py"} == set()
    assert not any(n.startswith(("routes_", "schemas_")) or n.endswith("_routes.py") for n in names)


def _defined_names(path: Path) -> set[str]:
    """Every function, class and method in a module, methods also as ``Class.method``."""
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}.{item.name}")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
    return names


def test_the_readme_walkthrough_of_the_code_names_what_exists() -> None:
    """The README's layers and "how it travels" sections name files, and functions in them, for
    a newcomer to follow: each must still be there, so a rename cannot leave the guide behind."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = readme[readme.index("## Layers and rooms") : readme.index("## Running it for real")]
    pairs = re.findall(r"`([a-z_]+/[a-z_/]+\.py)`(?: `([A-Za-z_][A-Za-z_.]*)`)?", guide)
    assert len(pairs) > 20  # the guide is really there
    missing: list[str] = []
    for file, name in pairs:
        if file.split("/")[0] not in PACKAGES:
            continue  # a room's name in general (``routes/common.py``), not one file
        if not (ROOT / file).is_file():
            missing.append(file)
        elif name and name not in _defined_names(Path(file)):
            missing.append(f"{file} {name}")
    assert missing == []
