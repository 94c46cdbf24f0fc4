"""Authorization before validation: the wrong caller learns nothing of a route's schema.

Generated from ``app.url_map``: every route, every method, called as every identity of
``tests/identities.py`` (no credential, a survivor, her decoy session, an advocate, a
supervisor, an admin, staff still enrolling TOTP, a partner key with every scope and one with
none) with no input, with an invalid body and query, with a body that is not an object, with
JSON nested 1,000 deep and with a body that is not JSON at all. An identity the endpoint's
access rule refuses must get the very same 401 or 403 problem for every one of them (never a
400, 404, 413, 415 or 422 that would tell it about the input); an identity it admits must get
a validation answer for the invalid input (so the inputs here really are invalid, and the
refusals above mean something). A survivor's decoy (duress) session is admitted exactly where
her real one is, so that nothing tells the person holding the phone it is a decoy.

``FAMILIES`` is a second statement of who may be admitted under each URL prefix, independent
of the rules: a rule admitting anyone else there fails the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from api.contract import contract
from core.runtime import Runtime
from tests.api.test_access import openapi_path, url_for_rule
from tests.factories import auth_header
from tests.identities import World, admits, build_world
from tests.json_client import JsonClient
from web.access import PUBLIC_ENDPOINTS
from web.problems import PROBLEM_MIME

IDENTITIES = ("ANON", "S1", "S1_DECOY", "A1", "SUP", "ADM", "PENDING_ADV", "P1", "P1_NOSCOPE")
SURVIVOR_APP = {"S1", "S1_DECOY"}

# Who may ever get past the access rule under each prefix (the longest match wins).
FAMILIES: dict[str, set[str]] = {
    "/v1/admin/": {"ADM"},
    "/v1/supervisor/": {"SUP"},
    "/v1/partner/": {"P1", "P1_NOSCOPE"},
    "/v1/survivor/": SURVIVOR_APP,
    # A survivor's record is for the staff who work caseloads; admins never reach it.
    "/v1/staff/survivors/": {"A1", "SUP"},
    "/v1/staff/": {"A1", "SUP", "ADM", "PENDING_ADV"},
    "/v1/instruments": SURVIVOR_APP | {"A1", "SUP", "ADM"},
}

DEEP = b"[" * 1000 + b"]" * 1000


@dataclass(frozen=True)
class Variant:
    name: str
    body: bytes | None = None
    content_type: str = "application/json"
    invalid_query: bool = False


VARIANTS = (
    Variant("bare"),
    Variant("invalid", json.dumps({"not_a_field": "\u0000"}).encode(), invalid_query=True),
    Variant("not-an-object", b"[]"),
    Variant("deep", DEEP),
    Variant("not-json", b"name=x", content_type="text/plain"),
)


@pytest.fixture
def world(db_session: Session, runtime: Runtime) -> World:
    return build_world(db_session, runtime)


def _inputs(app: Flask) -> dict[tuple[str, str], tuple[bool, list[str]]]:
    """(openapi path, method) -> (takes a JSON body, names of its query parameters)."""
    out = {}
    for path, operations in contract(app)["paths"].items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            body = "application/json" in op.get("requestBody", {}).get("content", {})
            query = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
            out[(path, method.upper())] = (body, query)
    return out


def _send(
    client: JsonClient, token: str | None, method: str, url: str, v: Variant, query: list[str]
) -> Any:
    headers = auth_header(token) if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if v.body is not None:
        kwargs["data"] = v.body
        kwargs["content_type"] = v.content_type
    if v.invalid_query and query:
        kwargs["query_string"] = {name: "\x00" for name in query}
    return client.open(url, method=method, **kwargs)


def _answer(r: Any) -> tuple[Any, ...]:
    body = r.get_json(silent=True) if r.mimetype == PROBLEM_MIME else None
    body = {k: v for k, v in (body or {}).items() if k != "request_id"}
    return r.status_code, r.mimetype, r.headers.get("WWW-Authenticate"), json.dumps(body)


def _family(path: str) -> set[str] | None:
    matches = [prefix for prefix in FAMILIES if path.startswith(prefix)]
    return FAMILIES[max(matches, key=len)] if matches else None


def _refusal_problems(
    client: JsonClient, world: World, who: str, method: str, rule: Rule, url: str, query: list[str]
) -> list[str]:
    token = world.tokens[who]
    seen = {v.name: _answer(_send(client, token, method, url, v, query)) for v in VARIANTS}
    first = seen["bare"]
    problems = []
    if first[0] not in (401, 403) or first[1] != PROBLEM_MIME:
        problems.append(f"{who} {method} {rule.rule}: refused with {first[0]}")
    for name, answer in seen.items():
        if answer != first:
            problems.append(
                f"{who} {method} {rule.rule}: {name} -> {answer[0]} {answer[3]}, "
                f"bare -> {first[0]} {first[3]}"
            )
    return problems


def test_the_wrong_caller_is_refused_before_any_input_is_read(
    app: Flask, client: JsonClient, world: World
) -> None:
    inputs = _inputs(app)
    violations: list[str] = []
    refusals = validated = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith("console."):
            continue  # pages: tests/api/test_access.py and tests/console
        family = _family(rule.rule)
        if family is None:
            violations.append(f"{rule.rule}: under no prefix of FAMILIES")
            continue
        url = url_for_rule(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            takes_body, query = inputs.get((openapi_path(rule), method), (False, []))
            if admits(app, world, rule.endpoint, method, "S1") != admits(
                app, world, rule.endpoint, method, "S1_DECOY"
            ):
                violations.append(f"{method} {rule.rule}: the decoy session is told apart")
            for who in IDENTITIES:
                admitted = admits(app, world, rule.endpoint, method, who)
                if admitted and who not in family:
                    violations.append(f"{method} {rule.rule} admits {who}, outside its family")
                if not admitted:
                    refusals += 1
                    violations += _refusal_problems(client, world, who, method, rule, url, query)
                elif takes_body or query:
                    # Invalid input only: a valid call would act (log out, quick exit...).
                    validated += 1
                    for v in (VARIANTS[1], VARIANTS[3]) if takes_body else (VARIANTS[1],):
                        status = _send(client, world.tokens[who], method, url, v, query).status_code
                        if status not in (400, 422):
                            violations.append(f"{who} {method} {rule.rule}: {v.name} -> {status}")
    assert not violations, "\n".join(violations)
    assert refusals > 500
    assert validated > 50
