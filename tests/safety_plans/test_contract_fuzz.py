"""schemathesis over the safety_plans part of the contract: no 5xx, no schema violations.

Bounded (a few examples per operation); the survivor's token drives /v1/survivor/ and
/v1/instruments, the advocate's drives /v1/staff/. Path ids are random, so most staff calls
exercise refusals; the owner paths are covered by the behaviour tests.
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

from tests.safety_plans.conftest import Party

PATHS = (
    r"^/v1/(instruments|survivor/(safety-plan|decoy-plan|advocate-sharing|priorities|assessments"
    r"|recommendations|journal)|staff/survivors/[^/]+/(safety-plan|assessments|marac-eligibility"
    r"|recommendations|journal))"
)
# Not "positive data acceptance": a schema-valid PUT without If-Match is rightly refused with
# 428, which that check would count as a failure.
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


def test_safety_plans_contract_holds_under_fuzzing(app: Flask, party: Party) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=PATHS)
    failures: list[tuple[Any, ...]] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        staff = op.path.startswith("/v1/staff/")
        _fuzz(op, party.advocate_headers if staff else party.survivor_headers, failures)
    assert operations >= 30
    assert not failures, "\n".join(map(str, failures[:10]))
