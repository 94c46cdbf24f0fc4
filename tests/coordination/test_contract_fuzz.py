"""schemathesis over the coordination part of the contract: no 5xx, no schema violations.

Bounded (a few examples per operation), each family with its owner's credential: the
survivor's app, an advocate, an admin and a partner key with every scope. Webhook URLs are
resolved by a fake resolver (no real DNS from a fuzzer)."""

from __future__ import annotations

from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.coordination.conftest import World
from tests.factories import auth_header

PATHS = (
    r"^/v1/(survivor/(agencies|consents|disclosures|sharing-)"
    r"|staff/survivors/[^/]+/(consents|alerts|disclosures|agency-events|lawful-shares)"
    r"|partner/(alerts|events)|admin/(agencies/[^/]+/webhook|deliveries))"
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(op: Any, headers: dict[str, str], failures: list[tuple[Any, ...]]) -> None:
    @given(case=op.as_strategy())
    @hsettings(
        max_examples=6,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
        database=None,
    )
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            failures.append((op.method, op.path, response.status_code, str(exc)[:300]))

    run()


def test_coordination_contract_holds_under_fuzzing(app: Flask, world: World) -> None:
    world.consent(world.police, ["welfare_check"])
    world.session.commit()
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=PATHS)
    failures: list[tuple[Any, ...]] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        if op.path.startswith("/v1/staff/"):
            token = world.advocate_token
        elif op.path.startswith("/v1/survivor/"):
            token = world.survivor_token
        elif op.path.startswith("/v1/admin/"):
            token = world.admin_token
        else:
            token = world.police_key
        _fuzz(op, auth_header(token), failures)
    assert operations >= 25
    assert not failures, "\n".join(map(str, failures[:10]))
