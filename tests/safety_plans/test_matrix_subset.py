"""The permission matrix's walk over safety_plans routes only.

tests/test_permission_matrix.py walks every route of every domain (and fails while any
domain lacks factories); this runs the same walk, with the same world, families, factories
and bodies, restricted to this package's blueprints, so its verdict on these routes stands
on its own.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests import test_permission_matrix as matrix
from tests.identities import World
from tests.json_client import JsonClient
from tests.test_permission_matrix import world  # noqa: F401  (the matrix's fixture)

MINE = ("safety_plans.", "risk.", "journal.")


def test_safety_plans_routes_refuse_every_intruder(
    app: Flask, client: JsonClient, request: pytest.FixtureRequest
) -> None:
    w: World = request.getfixturevalue("world")
    routes = [r for r in matrix.id_routes(app) if r.rule.endpoint.startswith(MINE)]
    assert len(routes) >= 15
    violations: list[str] = []
    for route in routes:
        family = matrix.family_of(route.path)
        assert family is not None, route.path
        assert not set(route.rule.arguments) - set(matrix.PARAM_FACTORIES), route.path
        owner, allowed = family[0], set(family)
        url = matrix.build_url(w, route)
        if "GET" in route.methods:
            status = matrix.call(client, w, owner, "GET", url, None)
            if not 200 <= status < 300:
                violations.append(f"owner {owner} GET {route.path} -> {status}")
        for method in route.methods:
            body_factory = matrix.BODIES.get((method, route.path))
            body = body_factory(w) if body_factory else {}
            for who in matrix.PRINCIPALS:
                if who in allowed:
                    continue
                status = matrix.call(client, w, who, method, url, body)
                refused = status in matrix.AUTHZ_REFUSALS if body_factory else 400 <= status < 500
                if not refused:
                    violations.append(f"{who} {method} {route.path} -> {status}")
    assert not violations, "\n".join(violations)
