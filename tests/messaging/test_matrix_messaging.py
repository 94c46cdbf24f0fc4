"""The permission matrix, walked over the messaging routes alone.

The shared matrix (tests/test_permission_matrix.py) covers every route once each domain has
registered its factories; this runs the same walk over ours, so our rows are proven even
while other domains' factories are still being written.
"""

from __future__ import annotations

from flask import Flask

from tests.identities import World
from tests.json_client import JsonClient
from tests.test_permission_matrix import (
    AUTHZ_REFUSALS,
    BODIES,
    PRINCIPALS,
    build_url,
    call,
    family_of,
    id_routes,
    world,  # noqa: F401 - the fixture
)


def test_no_principal_reaches_another_survivors_conversation(
    app: Flask,
    client: JsonClient,
    world: World,  # noqa: F811
) -> None:
    routes = [r for r in id_routes(app) if r.rule.endpoint.startswith("messaging_")]
    assert {r.path for r in routes} == {
        "/v1/staff/survivors/<uuid:survivor_id>/messages",
        "/v1/staff/survivors/<uuid:survivor_id>/messages/read",
        "/v1/staff/survivors/<uuid:survivor_id>/messages/settings",
    }
    violations = []
    for route in routes:
        family = family_of(route.path)
        assert family == ("A1",)
        url = build_url(world, route)
        if "GET" in route.methods:
            assert 200 <= call(client, world, "A1", "GET", url, None) < 300
        for method in route.methods:
            factory = BODIES.get((method, route.path))
            body = factory(world) if factory else None
            assert 200 <= call(client, world, "A1", method, url, body) < 300
            for who in PRINCIPALS:
                if who in family:
                    continue
                status = call(client, world, who, method, url, body)
                if status not in AUTHZ_REFUSALS:
                    violations.append(f"{who} {method} {route.path} -> {status}")
    assert not violations, violations
