"""Every field of every operation, given each input shape that once crashed the service.

Walks ``openapi/openapi.json`` (the contract the app serves): for every operation with a JSON
body, a body is built from its schema, and each shape below is put in place of each field in
turn (nested objects and list items too), and as a key; every query parameter gets the
query-string spellings of the same shapes. Each request goes out as an identity the endpoint's
access rule admits, so that it reaches the parsing and validation it tests. The answer must be
a 4xx problem+json, never a 5xx; on PostgreSQL this also proves that no NUL reaches a write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from api.contract import contract
from core.runtime import Runtime
from tests.api.test_access import openapi_path, url_for_rule
from tests.factories import auth_header
from tests.identities import World, admits, build_world
from tests.input_shapes import (
    BODY_SHAPES,
    KEY_SHAPES,
    QUERY_SHAPES,
    leaves,
    objects,
    with_key,
    with_value,
)
from tests.json_client import JsonClient
from web.problems import PROBLEM_MIME

# Who is tried first for an endpoint: the first identity its access rule admits.
PREFERRED = ("S1", "A1", "SUP", "ADM", "PENDING_ADV", "P1")


@pytest.fixture
def world(db_session: Session, runtime: Runtime) -> World:
    return build_world(db_session, runtime)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "oneOf" in schema:
        return _resolve(spec, schema["oneOf"][0])
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A plausible value for ``schema`` (validity does not matter: every field gets a shape)."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        out = {name: example(spec, sub) for name, sub in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            out["extra"] = example(spec, extra)
        return out
    if kind == "array":
        return [example(spec, schema.get("items", {}))]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return {"uuid": str(uuid.uuid4()), "date": "2026-01-05", "email": "a@lantern.test"}.get(
        schema.get("format", ""), "2026-01-05T12:00:00Z" if schema.get("format") else "x"
    )


def _operations(app: Flask) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    spec = contract(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method, op in spec["paths"].get(openapi_path(rule), {}).items():
            if isinstance(op, dict) and "responses" in op:
                yield rule, method.upper(), op


def _caller(app: Flask, world: World, rule: Any, method: str) -> dict[str, str]:
    for who in PREFERRED:
        if admits(app, world, rule.endpoint, method, who):
            token = world.tokens[who]
            assert token is not None
            return auth_header(token)
    return {}  # a public endpoint


def test_every_field_of_every_operation_refuses_every_shape(
    app: Flask, client: JsonClient, world: World
) -> None:
    spec = contract(app)
    failures: list[str] = []
    tried: set[str] = set()
    for rule, method, op in _operations(app):
        url = url_for_rule(rule)
        headers = _caller(app, world, rule, method)
        content = op.get("requestBody", {}).get("content", {})
        sends: list[tuple[str, dict[str, Any]]] = []
        if "application/json" in content:
            body = example(spec, content["application/json"]["schema"])
            for path in leaves(body):
                for name, shape in BODY_SHAPES.items():
                    sends.append((f"{name} at {path}", {"data": with_value(body, path, shape)}))
            for path in objects(body):
                for name, shape in KEY_SHAPES.items():
                    sends.append((f"{name} in {path}", {"data": with_key(body, path, shape)}))
        for param in op.get("parameters", []):
            if param.get("in") == "query":
                for name, shape in QUERY_SHAPES.items():
                    sends.append(
                        (f"{name} in ?{param['name']}", {"query": f"{param['name']}={shape}"})
                    )
        for what, send in sends:
            target = url + ("?" + send["query"] if "query" in send else "")
            r = client.open(
                target,
                method=method,
                headers=headers,
                data=send.get("data"),
                content_type="application/json" if "data" in send else None,
            )
            tried.add(f"{method} {rule.rule}")
            in_body = "data" in send
            # A query value can be acceptable text ("NaN" as a cursor is just not found).
            ok = 400 <= r.status_code < 500 if in_body or "nul" in what else r.status_code < 500
            if not ok or (r.status_code >= 400 and r.mimetype != PROBLEM_MIME):
                failures.append(f"{method} {rule.rule}: {what} -> {r.status_code}")
    assert not failures, "\n".join(failures[:60])
    assert len(tried) >= 50  # every operation that takes a body or a query
