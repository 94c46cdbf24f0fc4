"""The permission matrix: no principal reaches an object of another survivor, caseload or agency.

Generated from ``app.url_map``: every route with a path parameter, every method, called as
every principal that must NOT reach the object the URL names, must answer 4xx (never 2xx or
3xx, never 5xx). New routes are covered the moment they are registered.

The world (``tests/identities.py``): survivors S1 (advocate A1) and S2 (advocate A2), a
supervisor SUP with no grant and no caseload, an admin ADM, two staff members who never
enrolled TOTP (PENDING_ADV, on S1's caseload; PENDING_ADM, an admin), partner agencies P1 and
P2 with keys holding every scope, and no credential at all (ANON). Every URL is built from
objects belonging to S1, A1 or P1.

HOW TO ADD YOUR DOMAIN (three tables just below; nothing else to touch):

1. ``PARAM_FACTORIES``: one entry per path-parameter NAME (``plan_id``, ``conversation_id``,
   ``alert_id``...): ``lambda w: ...`` returning the value for an object that belongs to S1,
   A1 or P1 (create it through ``w.session`` / ``w.runtime``; a fresh one per route is fine).
   A route whose parameter has no factory makes the test fail and name it.
2. ``ROUTE_FAMILIES``: URL prefix -> the principals that legitimately reach S1/A1/P1 objects
   under it, OWNER FIRST (``SIGNED_IN`` for reference data any caller may read). They are
   not called as intruders; everyone else is. The owner's GET must answer 2xx (this proves
   the factories build URLs of real, reachable objects, so that the intruders' refusals
   mean something). The longest matching prefix wins, so a sub-family can be carved out.
3. ``BODIES`` (optional, recommended): a valid JSON body for ``(METHOD, rule)``. Without one
   the body is ``{}``, and a 422 counts as a refusal; with one, intruders get past
   validation and the refusal must be an authorization answer (401, 403 or 404).

``OWNER_GET_EXCEPTIONS`` lists GET routes whose owner legitimately gets no 2xx in this world
(say why); keep it empty if you can.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from auth.access.permissions import STAFF
from auth.authn import PARTNER_PREFIX
from auth.partners.keys import PARTNER_SCOPES
from auth.partners.models import PartnerAgency
from core.notices import notify_staff
from core.runtime import Runtime
from tests.checkins import matrix as checkins_matrix
from tests.coordination import matrix as coordination_matrix
from tests.factories import auth_header, make_device, make_partner_key
from tests.identities import World, build_world
from tests.json_client import JsonClient
from tests.safety_plans import matrix as safety_plans_matrix
from web.access import PUBLIC_ENDPOINTS, allow

PRINCIPALS = (
    "S1",
    "S2",
    "A1",
    "A2",
    "SUP",
    "ADM",
    "PENDING_ADV",
    "PENDING_ADM",
    "P1",
    "P2",
    "ANON",
)
# For reference data that is the same for every caller (e.g. risk instrument definitions):
# list SIGNED_IN as the family's principals, so that only the anonymous caller is refused.
SIGNED_IN = tuple(p for p in PRINCIPALS if p != "ANON")


def _partner_key(w: World, agency: PartnerAgency) -> str:
    """A fresh key of ``agency`` holding every scope; returns its public key id."""
    token = make_partner_key(w.session, w.runtime, agency, sorted(PARTNER_SCOPES))
    return token.removeprefix(PARTNER_PREFIX).split(".")[0]


def _s1_message(w: World) -> str:
    """A message in S1's conversation (written by S1), for the read-marker routes."""
    from messaging.conversations import SURVIVOR, Reader, post_message

    view = post_message(
        w.session, w.runtime.clock, w.runtime.vault, w.s1.id, Reader(SURVIVOR, w.s1.id), "hi"
    )
    return str(view.id)


# --- 1. path parameter NAME -> an object of S1 / A1 / P1 --------------------------------------

PARAM_FACTORIES: dict[str, Callable[[World], str]] = {
    "survivor_id": lambda w: str(w.s1.id),
    "staff_id": lambda w: str(w.a1.id),
    "agency_id": lambda w: str(w.p1.id),
    "key_id": lambda w: _partner_key(w, w.p1),
    "notice_id": lambda w: str(
        notify_staff(w.session, w.runtime.clock, [w.a1.id], "matrix", survivor_id=w.s1.id)[0].id
    ),
    "device_id": lambda w: str(make_device(w.session, w.runtime, w.s1.id)[0].id),
    # safety_plans: plan versions, assessments, journal entries and attachments of S1.
    **safety_plans_matrix.FACTORIES,
    # coordination: S1's consent with P1, A1's lawful-basis share for S1, P1's delivery of an
    # S1 alert (P1 sees a delivery's id as its alert id).
    "consent_id": coordination_matrix.consent_id,
    "share_id": coordination_matrix.share_id,
    "alert_id": coordination_matrix.delivery_id,
    "delivery_id": coordination_matrix.delivery_id,
    # check-ins: S1's schedule and occurrence, an escalation about S1 for A1.
    **checkins_matrix.FACTORIES,
}

# --- 2. URL prefix -> principals that legitimately reach S1/A1/P1 objects there (owner first) --

ROUTE_FAMILIES: dict[str, tuple[str, ...]] = {
    # Admins manage accounts and agencies: the admin routes are theirs and nobody else's.
    "/v1/admin/": ("ADM",),
    # Supervisors manage any survivor's caseload and may break glass: that is their room.
    "/v1/supervisor/": ("SUP",),
    # The staff console: A1 works S1's caseload. SUP (no grant) and ADM must get nothing.
    "/v1/staff/": ("A1",),
    # The survivor's app: S1's own record only.
    "/v1/survivor/": ("S1",),
    # The partner API: P1's own objects only.
    "/v1/partner/": ("P1",),
    # Risk instrument definitions: reference data for the survivor app and enrolled staff.
    "/v1/instruments/": safety_plans_matrix.INSTRUMENT_READERS,
}

# --- 3. optional valid bodies: (METHOD, rule) -> body, so intruders reach the authorization ----

BODIES: dict[tuple[str, str], Callable[[World], dict[str, Any]]] = {
    ("PATCH", "/v1/admin/agencies/<uuid:agency_id>"): lambda w: {"name": "Renamed"},
    ("POST", "/v1/admin/agencies/<uuid:agency_id>/api-keys"): lambda w: {"scopes": ["alerts:read"]},
    ("POST", "/v1/supervisor/survivors/<uuid:survivor_id>/advocates"): lambda w: {
        "staff_id": str(w.a2.id)
    },
    ("POST", "/v1/supervisor/survivors/<uuid:survivor_id>/break-glass"): lambda w: {
        "reason": "Checking the permission matrix holds."
    },
    ("PUT", "/v1/staff/survivors/<uuid:survivor_id>/case-label"): lambda w: {
        "case_label": "Matrix"
    },
    ("POST", "/v1/staff/survivors/<uuid:survivor_id>/messages"): lambda w: {"body": "matrix"},
    ("POST", "/v1/staff/survivors/<uuid:survivor_id>/messages/read"): lambda w: {
        "up_to": _s1_message(w)
    },
}

BODIES.update(safety_plans_matrix.BODIES)
BODIES.update(coordination_matrix.BODIES)
BODIES.update(checkins_matrix.BODIES)

OWNER_GET_EXCEPTIONS: dict[str, str] = {}

AUTHZ_REFUSALS = (401, 403, 404)


# --- the world ------------------------------------------------------------------------------


@pytest.fixture
def world(db_session: Session, runtime: Runtime) -> World:
    return build_world(db_session, runtime)


# --- the walk -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    rule: Rule
    methods: tuple[str, ...]

    @property
    def path(self) -> str:
        return self.rule.rule


def id_routes(app: Flask) -> list[Route]:
    """Every rule that takes a path parameter, with its real methods."""
    routes = []
    for rule in app.url_map.iter_rules():
        # Console pages are reached with a cookie, not these bearer tokens: their own matrix is
        # tests/console/test_page_matrix.py (and every token is refused there).
        if not rule.arguments or rule.endpoint.startswith("console."):
            continue
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        routes.append(Route(rule, methods))
    return sorted(routes, key=lambda r: r.path)


def family_of(path: str) -> tuple[str, ...] | None:
    matches = [prefix for prefix in ROUTE_FAMILIES if path.startswith(prefix)]
    return ROUTE_FAMILIES[max(matches, key=len)] if matches else None


def coverage_problems(app: Flask) -> list[str]:
    problems = []
    for route in id_routes(app):
        if family_of(route.path) is None:
            problems.append(
                f"{route.path}: under no prefix of ROUTE_FAMILIES in "
                "tests/test_permission_matrix.py; add its prefix and who may reach it."
            )
        for name in sorted(route.rule.arguments):
            if name not in PARAM_FACTORIES:
                problems.append(
                    f"{route.path}: no factory for path parameter {name!r}; register one in "
                    "PARAM_FACTORIES (tests/test_permission_matrix.py) returning an object "
                    "that belongs to S1, A1 or P1."
                )
    return problems


def build_url(w: World, route: Route) -> str:
    values = {name: PARAM_FACTORIES[name](w) for name in sorted(route.rule.arguments)}
    built = route.rule.build(values, append_unknown=False)
    assert built is not None, f"could not build {route.path} from {values}"
    return built[1]


def call(client: JsonClient, w: World, who: str, method: str, url: str, body: Any) -> int:
    token = w.tokens[who]
    headers = auth_header(token) if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = body
    return client.open(url, method=method, **kwargs).status_code


# --- the tests ------------------------------------------------------------------------------


def test_every_id_route_has_a_family_and_factories(app: Flask) -> None:
    problems = coverage_problems(app)
    assert not problems, "\n".join(problems)


def test_the_matrix_covers_the_identity_routes(app: Flask) -> None:
    # Guards against a walk that silently finds nothing (e.g. blueprints not registered).
    paths = {r.path for r in id_routes(app)}
    assert "/v1/staff/survivors/<uuid:survivor_id>" in paths
    assert "/v1/admin/agencies/<uuid:agency_id>/api-keys" in paths
    assert "/v1/staff/notices/<uuid:notice_id>/read" in paths


def test_no_principal_reaches_another_partys_object(
    app: Flask, client: JsonClient, world: World
) -> None:
    problems = coverage_problems(app)
    assert not problems, "\n".join(problems)
    violations: list[str] = []
    calls = 0
    for route in id_routes(app):
        family = family_of(route.path)
        assert family is not None
        owner, allowed = family[0], set(family)
        url = build_url(world, route)
        public = route.rule.endpoint in PUBLIC_ENDPOINTS
        if "GET" in route.methods and route.path not in OWNER_GET_EXCEPTIONS:
            status = call(client, world, owner, "GET", url, None)
            if not 200 <= status < 300:
                violations.append(
                    f"owner {owner} GET {route.path} -> {status}: the factories do not build a "
                    "URL its owner can reach, so refusals below would prove nothing"
                )
        for method in route.methods:
            body_factory = BODIES.get((method, route.path))
            body = body_factory(world) if body_factory else {}
            for who in PRINCIPALS:
                if who in allowed or (who == "ANON" and public):
                    continue
                status = call(client, world, who, method, url, body)
                calls += 1
                refused = 400 <= status < 500
                if body_factory is not None:
                    refused = status in AUTHZ_REFUSALS
                if not refused:
                    violations.append(f"{who} {method} {route.path} ({url}) -> {status}")
    assert not violations, "reached what they must not:\n" + "\n".join(violations)
    assert calls > 0


def test_unknown_parameter_name_is_reported(app: Flask) -> None:
    # The failure message a later domain sees when it forgets its factory.
    saved = PARAM_FACTORIES.pop("notice_id")
    try:
        problems = coverage_problems(app)
    finally:
        PARAM_FACTORIES["notice_id"] = saved
    assert any("'notice_id'" in p and "PARAM_FACTORIES" in p for p in problems)


def test_a_leaky_route_would_be_caught(fresh_app: Flask, world: World) -> None:
    """The matrix fails on a route that forgets its authorization (the test can fail)."""
    app, client = fresh_app, JsonClient(fresh_app)  # it adds a route: an app of its own
    from flask import jsonify

    # Staff may call it (its access rule), but it forgets the caseload check behind that.
    @app.route("/v1/staff/leaky/<uuid:survivor_id>", endpoint="matrix_leaky")
    @allow(STAFF)
    def leaky(survivor_id: uuid.UUID) -> Any:
        return jsonify({"id": str(survivor_id)})

    route = next(r for r in id_routes(app) if r.path == "/v1/staff/leaky/<uuid:survivor_id>")
    url = build_url(world, route)
    assert call(client, world, "A2", "GET", url, None) == 200  # what the matrix flags
