"""schemathesis over the messaging part of the contract: no 5xx, no schema violations.

Bounded (a few examples per operation). The survivor's token drives /v1/survivor/, the
advocate's /v1/staff/; the Twilio webhooks are fuzzed unsigned and must answer their
documented 403 problem.
"""

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
from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests.factories import auth_header, make_staff, make_survivor

PATHS = r"^/v1/(survivor/(messages|phone)|staff/(survivors/[^/]+/messages|messages)|sms/)"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _fuzz(op: Any, headers: dict[str, str], failures: list[tuple[Any, ...]]) -> None:
    @given(case=op.as_strategy())
    @hsettings(
        max_examples=8,
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


def test_messaging_contract_holds_under_fuzzing(
    app: Flask, db_session: Session, runtime: Runtime
) -> None:
    advocate, staff_token = make_staff(db_session, runtime)
    _survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=PATHS)
    failures: list[tuple[Any, ...]] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        if op.path.startswith("/v1/staff/"):
            headers = auth_header(staff_token)
        elif op.path.startswith("/v1/survivor/"):
            headers = auth_header(token)
        else:
            headers = {}
        _fuzz(op, headers, failures)
    assert operations >= 14
    assert not failures, "\n".join(map(str, failures[:10]))
