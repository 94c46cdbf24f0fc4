"""The permission matrix, walked over the coordination routes only.

The shared ``tests/test_permission_matrix.py`` walks every route; this runs the same walk
(same world, factories, families and bodies) restricted to this domain's endpoints, so the
coordination rows are proven even while another domain's rows are unfinished.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests import test_permission_matrix as m
from tests.identities import build_world
from tests.json_client import JsonClient


def _ours(app: Flask) -> list[m.Route]:
    return [r for r in m.id_routes(app) if r.rule.endpoint.startswith("coordination_")]


def test_coordination_routes_have_families_and_factories(app: Flask) -> None:
    routes = _ours(app)
    assert len(routes) >= 12
    for route in routes:
        assert m.family_of(route.path) is not None, route.path
        for name in route.rule.arguments:
            assert name in m.PARAM_FACTORIES, (route.path, name)


def test_no_principal_reaches_another_partys_coordination_object(
    app: Flask, client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    w = build_world(db_session, runtime)
    violations: list[str] = []
    calls = 0
    for route in _ours(app):
        family = m.family_of(route.path)
        assert family is not None
        owner, allowed = family[0], set(family)
        url = m.build_url(w, route)
        if "GET" in route.methods:
            status = m.call(client, w, owner, "GET", url, None)
            if not 200 <= status < 300:
                violations.append(f"owner {owner} GET {route.path} -> {status}")
        for method in route.methods:
            body_factory = m.BODIES.get((method, route.path))
            body = body_factory(w) if body_factory else {}
            for who in m.PRINCIPALS:
                if who in allowed:
                    continue
                status = m.call(client, w, who, method, url, body)
                calls += 1
                refused = status in m.AUTHZ_REFUSALS if body_factory else 400 <= status < 500
                if not refused:
                    violations.append(f"{who} {method} {route.path} -> {status}")
    assert not violations, "\n".join(violations)
    assert calls > 100
