"""Deny by default: walk ``app.url_map`` against the one allowlist of public endpoints.

The cases come from the url_map itself, so a route added later is covered without touching
this file: without a credential it must answer 401, or be named in ``PUBLIC_ENDPOINTS``.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UUIDConverter,
)

from api import access, security
from api.problems import PROBLEM_MIME, TYPE_PREFIX
from tests.api.conftest import add_probes


def placeholder(rule: Rule, name: str) -> object:
    """A value the rule's converter accepts (random, so no real row is ever hit)."""
    converter = rule._converters[name]
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    if isinstance(converter, IntegerConverter):
        return random.randint(1, 1_000_000)
    if isinstance(converter, FloatConverter):
        return 1.5
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, PathConverter):
        return "placeholder/path"
    return "p" + uuid.uuid4().hex[:8]  # string converter; fits minlength/maxlength of 1-32


def url_for_rule(rule: Rule) -> str:
    values = {name: placeholder(rule, name) for name in rule.arguments}
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def openapi_path(rule: Rule) -> str:
    """The rule's path as the OpenAPI contract spells it (``{name}`` for each parameter)."""
    return re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule.rule)


def private_cases(app: Flask) -> Iterator[tuple[str, str, str, bool]]:
    """(endpoint, method, url, automatic OPTIONS) for every non-public route and method."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in access.PUBLIC_ENDPOINTS:
            continue
        url = url_for_rule(rule)
        for method in sorted(rule.methods or ()):
            yield rule.endpoint, method, url, bool(rule.provide_automatic_options)


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"Authorization": "Bearer st_" + "A" * 43},
        {"Authorization": "Bearer sa_" + "B" * 43},
        {"Authorization": "Bearer pk_k1.notarealkey"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-Api-Key": "pk_k1.notarealkey"},
    ],
    ids=[
        "none",
        "unknown-staff-token",
        "unknown-survivor-token",
        "bad-partner-key",
        "basic",
        "api-key-header",
    ],
)
def test_every_private_endpoint_refuses_requests_without_valid_credentials(
    app: Flask, credentials: dict[str, str]
) -> None:
    add_probes(app)  # probe.private guarantees at least one case even in a bare app
    client: FlaskClient = app.test_client()
    checked, failures = 0, []
    for endpoint, method, url, automatic_options in private_cases(app):
        r = client.open(url, method=method, headers=credentials)
        if method == "OPTIONS" and automatic_options:
            # Flask's automatic OPTIONS runs no view; it tells only what a 405 also tells.
            if r.status_code != 200 or r.get_data():
                failures.append((endpoint, method, r.status_code))
            continue
        checked += 1
        ok = (
            r.status_code == 401
            and r.mimetype == PROBLEM_MIME
            and r.headers.get("WWW-Authenticate", "").startswith("Bearer")
            and (method == "HEAD" or (r.json or {}).get("type") == TYPE_PREFIX + "unauthenticated")
        )
        if not ok:
            failures.append((endpoint, method, r.status_code))
    assert checked >= 1
    assert failures == [], f"answered without a valid credential: {failures}"


def test_the_walk_covers_every_converter_and_catches_an_open_route(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The walker itself: it fills every kind of path parameter, and it would notice a route
    # that answers without credentials (here: one made public behind the allowlist's back).
    @app.route("/walk/<uuid:a>/<int:b>/<float:c>/<any(x, y):d>/<string:e>/<path:f>")
    def walk_probe(a: object, b: object, c: object, d: object, e: object, f: object) -> str:
        return "open"

    cases = [c for c in private_cases(app) if c[0] == "walk_probe"]
    assert {m for _, m, _, _ in cases} == {"GET", "HEAD", "OPTIONS"}
    url = cases[0][2]
    client = app.test_client()
    assert client.get(url).status_code == 401
    monkeypatch.setattr(access, "PUBLIC_ENDPOINTS", access.PUBLIC_ENDPOINTS | {"walk_probe"})
    assert client.get(url).status_code == 200  # so the walk above would have failed


def test_every_public_endpoint_exists(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = access.PUBLIC_ENDPOINTS - endpoints
    assert not stale, f"PUBLIC_ENDPOINTS names endpoints that do not exist: {sorted(stale)}"


def test_every_non_json_body_endpoint_exists(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = security.NON_JSON_BODY_ENDPOINTS - endpoints
    assert not stale, f"NON_JSON_BODY_ENDPOINTS names endpoints that do not exist: {sorted(stale)}"


def test_public_endpoints_answer_without_credentials(client: FlaskClient) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "WWW-Authenticate" not in r.headers


def test_unknown_path_and_wrong_method_are_answered_before_credentials(app: Flask) -> None:
    add_probes(app)
    client = app.test_client()
    r = client.get("/v1/staff/" + str(uuid.uuid4()) + "/nothing")
    assert r.status_code == 404
    private = next(
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in access.PUBLIC_ENDPOINTS and "DELETE" not in (rule.methods or ())
    )
    r = client.delete(url_for_rule(private))
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"] or "POST" in r.headers["Allow"]
