"""The OpenAPI contract: served (switchably), committed without drift, errors as problems."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask

from api.app import create_app
from api.contract import CONTRACT_PATH, contract, render
from core.runtime import Runtime
from tests.api.conftest import AppFactory
from tests.json_client import JsonClient
from web import access
from web.openapi import BEARER_SCHEME
from web.problems import PROBLEM_MIME

PROBLEM_REF = "#/components/schemas/Problem"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_contract_is_served_as_json(client: JsonClient, app: Flask) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    assert r.json == json.loads(render(app))
    assert r.headers["Cache-Control"] == "no-store"


def test_contract_can_be_switched_off(app_with: AppFactory) -> None:
    app = app_with(openapi_enabled=False)
    r = JsonClient(app).get("/openapi.json")
    assert r.status_code == 404
    assert r.mimetype == PROBLEM_MIME
    assert "api-docs.openapi_json" not in {rule.endpoint for rule in app.url_map.iter_rules()}
    # The contract still exists for `lantern openapi write`; it is only not served.
    assert "/healthz" in contract(app)["paths"]


def test_committed_contract_matches_the_code(app: Flask) -> None:
    committed = CONTRACT_PATH.read_text() if CONTRACT_PATH.exists() else ""
    assert committed == render(app), (
        "openapi/openapi.json is stale: run `make openapi` and commit the result"
    )


def test_rendering_is_deterministic(app: Flask, runtime: Runtime) -> None:
    # A second app built from the same code renders the same bytes, so the drift test above
    # fails only on a real change.
    again = create_app(runtime.settings, runtime=runtime)
    assert render(again) == render(app)


def test_every_error_response_is_documented_as_a_problem(app: Flask) -> None:
    spec = contract(app)
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert {"detail", "errors", "request_id"} <= set(problem["properties"])
    checked, wrong = 0, []
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        if "default" not in responses:
            wrong.append((path, method, "no default error response"))
        for status, response in responses.items():
            if status.startswith(("1", "2", "3")):
                continue
            checked += 1
            content = resolve(spec, response).get("content", {})
            schema = content.get(PROBLEM_MIME, {}).get("schema", {})
            if set(content) != {PROBLEM_MIME} or schema.get("$ref") != PROBLEM_REF:
                wrong.append((path, method, status))
    assert checked >= 2  # every operation has at least its default error
    assert wrong == []


def test_security_in_the_contract_follows_the_allowlist(app: Flask) -> None:
    spec = contract(app)
    assert spec["security"] == [{BEARER_SCHEME: []}]
    assert spec["components"]["securitySchemes"][BEARER_SCHEME]["scheme"] == "bearer"
    seen = 0
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        if path not in spec["paths"]:
            continue  # not documented (the contract itself)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][path][method.lower()]
            public = rule.endpoint in access.PUBLIC_ENDPOINTS
            assert (operation.get("security") == []) == public, (rule.endpoint, method)
            seen += 1
    assert seen >= 2


def test_every_refusal_is_documented_through_route_docs() -> None:
    # One way to document an error answer (``web.route_docs``): a refusal documented another
    # way drifts from the problem schema or from the Retry-After a 429 carries.
    root = CONTRACT_PATH.parent.parent
    own = root / "api" / "route_docs.py"
    found = []
    for package in ("api", "auth", "coordination", "core", "messaging", "safety_plans"):
        for path in sorted((root / package).rglob("*.py")):
            if path == own:
                continue
            for status in re.findall(r"\.alt_response\(\s*(\d+)", path.read_text()):
                if int(status) >= 400:
                    found.append(f"{path.relative_to(root)}: {status}")
    assert found == []


def test_a_429_always_documents_retry_after(app: Flask) -> None:
    spec = contract(app)
    slowed = [
        (path, method, resolve(spec, response))
        for path, method, operation in operations(spec)
        for status, response in operation["responses"].items()
        if status == "429"
    ]
    assert len(slowed) >= 10  # logins, PIN changes, plan saves, messages, journal entries
    assert [(p, m) for p, m, r in slowed if "Retry-After" not in r.get("headers", {})] == []
