"""Deny by default: walk ``app.url_map`` against the one allowlist of public endpoints.

The cases come from the url_map itself, so a route added later is covered without touching
this file: without a credential it must answer 401, or be named in ``PUBLIC_ENDPOINTS``.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UUIDConverter,
)

from core.runtime import Runtime
from tests.api.conftest import CapturedLogs, add_probes
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from tests.json_client import JsonClient
from web import access, security
from web.problems import PROBLEM_MIME, TYPE_PREFIX


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
        # Flask sets provide_automatic_options on Werkzeug's Rule without declaring it (its own
        # add_url_rule ignores the same error), so the stubs cannot know the attribute.
        automatic = rule.provide_automatic_options  # type: ignore[attr-defined]
        for method in sorted(rule.methods or ()):
            yield rule.endpoint, method, url, bool(automatic)


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
    fresh_app: Flask, credentials: dict[str, str]
) -> None:
    app = fresh_app  # probes are added to it: an app of its own
    add_probes(app)  # probe.private guarantees at least one case even in a bare app
    client: JsonClient = JsonClient(app)
    checked, failures = 0, []
    for endpoint, method, url, automatic_options in private_cases(app):
        r = client.open(url, method=method, headers=credentials)
        if method == "OPTIONS" and automatic_options:
            # Flask's automatic OPTIONS runs no view; it tells only what a 405 also tells.
            if r.status_code != 200 or r.get_data():
                failures.append((endpoint, method, r.status_code))
            continue
        checked += 1
        if endpoint.startswith(access.PAGES_BLUEPRINT + "."):
            # A page without its cookie sends the browser to sign in, showing nothing; a bearer
            # token or key is no credential there at all.
            ok = r.status_code == 303 and r.headers["Location"].endswith("/console/sign-in")
            if not ok:
                failures.append((endpoint, method, r.status_code))
            continue
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
    fresh_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = fresh_app  # this test adds a route: an app of its own
    # The walker itself: it fills every kind of path parameter, and it would notice a route
    # that answers without credentials (here: one made public behind the allowlist's back).
    @app.route("/walk/<uuid:a>/<int:b>/<float:c>/<any(x, y):d>/<string:e>/<path:f>")
    def walk_probe(a: object, b: object, c: object, d: object, e: object, f: object) -> str:
        return "open"

    cases = [c for c in private_cases(app) if c[0] == "walk_probe"]
    assert {m for _, m, _, _ in cases} == {"GET", "HEAD", "OPTIONS"}
    url = cases[0][2]
    client = JsonClient(app)
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


def test_public_endpoints_answer_without_credentials(client: JsonClient) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "WWW-Authenticate" not in r.headers


def test_unknown_path_and_wrong_method_are_answered_before_credentials(fresh_app: Flask) -> None:
    app = fresh_app  # probes are added to it: an app of its own
    add_probes(app)
    client = JsonClient(app)
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


# --- access rules: who may call each endpoint, decided before any input is read --------------


def test_every_endpoint_declares_who_may_call_it(app: Flask) -> None:
    missing, public_with_rule = [], []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            declared = access.rule_for(app, rule.endpoint, method)
            if rule.endpoint in access.PUBLIC_ENDPOINTS:
                if declared is not None:
                    public_with_rule.append(f"{method} {rule.rule}")
            elif declared is None:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "no access rule (web.access.allow), so nobody may call:\n" + "\n".join(
        missing
    )
    assert not public_with_rule, f"public, yet with a rule that never runs: {public_with_rule}"


def test_an_endpoint_without_a_rule_refuses_everyone(
    fresh_app: Flask, db_session: Session, runtime: Runtime, captured_logs: CapturedLogs
) -> None:
    app = fresh_app  # probes are added to it: an app of its own
    add_probes(app)  # probe.private declares no rule
    app_client = JsonClient(app)
    _, staff_token = make_staff(db_session, runtime, role="admin")
    _, survivor_token = make_survivor(db_session, runtime)
    db_session.commit()
    assert access.rule_for(app, "probe.private", "GET") is None
    for token in (staff_token, survivor_token):
        r = app_client.post("/probe/private", json={"anything": 1}, headers=auth_header(token))
        assert r.status_code == 403
        assert r.json["type"] == TYPE_PREFIX + "forbidden"
    assert any(rec.get("event") == "access_rule_missing" for rec in captured_logs.records())


def test_a_method_rule_overrides_its_class_rule(fresh_app: Flask) -> None:
    app = fresh_app  # this test adds a route: an app of its own
    from flask.views import MethodView

    from auth.access.permissions import ADMIN, SURVIVOR

    @access.allow(SURVIVOR)
    class Mixed(MethodView):
        def get(self) -> str:
            return "survivor"

        @access.allow(ADMIN)
        def post(self) -> str:
            return "admin"

    app.add_url_rule("/mixed", view_func=Mixed.as_view("mixed"))
    assert access.rule_for(app, "mixed", "GET") is SURVIVOR
    assert access.rule_for(app, "mixed", "HEAD") is SURVIVOR
    assert access.rule_for(app, "mixed", "POST") is ADMIN


def test_the_wrong_identity_gets_the_same_refusal_whatever_it_sends(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    # The outside test's own cases: a survivor token got 422 for an invalid body and 403 for a
    # valid one, so the body's schema could be learned without the right to call the route.
    agency, _ = make_agency(db_session, runtime)
    _, survivor_token = make_survivor(db_session, runtime)
    _, advocate_token = make_staff(db_session, runtime)
    db_session.commit()
    patch = f"/v1/admin/agencies/{agency.id}"
    resolve = f"/v1/staff/escalations/{uuid.uuid4()}/resolve"
    cases: list[tuple[str, str, list[str], list[Any]]] = [
        (survivor_token, "PATCH", [patch], [{"name": ""}, {"name": "X"}, [], None]),
        (advocate_token, "PATCH", [patch], [{"name": ""}, {"name": "X"}, [], None]),
        (survivor_token, "GET", ["/v1/partner/alerts?limit=0", "/v1/partner/alerts"], [None]),
        (survivor_token, "GET", ["/v1/staff/notices?limit=0", "/v1/staff/notices"], [None]),
        (survivor_token, "POST", [resolve], [{"note": 5}, {"note": "x"}, None]),
    ]
    for token, method, urls, bodies in cases:
        answers = set()
        for url in urls:
            for body in bodies:
                r = client.open(url, method=method, json=body, headers=auth_header(token))
                answers.add((r.status_code, r.json["type"], r.json["detail"]))
        assert len(answers) == 1, (method, urls, answers)
        assert next(iter(answers))[0] == 403


def test_a_view_asking_for_another_kind_than_its_rule_admits_fails_loudly(
    fresh_app: Flask, db_session: Session, runtime: Runtime
) -> None:
    app = fresh_app  # this test adds a route: an app of its own
    # admitted() narrows the type; it never decides a second time, so a mismatch is a bug.
    from auth.access.permissions import SURVIVOR
    from auth.principals import StaffPrincipal

    @app.route("/mismatch", endpoint="mismatch", methods=["POST"])
    @access.allow(SURVIVOR)
    def mismatch() -> str:
        return str(access.admitted(StaffPrincipal).staff_id)

    _, token = make_survivor(db_session, runtime)
    db_session.commit()
    r = JsonClient(app).post("/mismatch", headers=auth_header(token))
    assert r.status_code == 500
    assert r.mimetype == PROBLEM_MIME
