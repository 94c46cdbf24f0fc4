"""One way to fuzz part of the contract with schemathesis, for every domain's test.

Each operation gets a bounded number of generated cases, sent in-process with the
credential ``headers_for(path)`` chooses; every response must be no server error, a
documented status, a documented content type and a body matching the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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

# Not "positive data acceptance": a schema-valid request can rightly be refused by a business
# rule (a weak PIN, a PUT without If-Match), which that check would count as a failure.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class FuzzReport:
    operations: int = 0
    cases: int = 0
    failures: list[tuple[Any, ...]] = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join(map(str, self.failures[:10]))


def fuzz_contract(
    app: Flask,
    *,
    path_regex: str,
    headers_for: Callable[[str], dict[str, str]],
    max_examples: int = 6,
) -> FuzzReport:
    """Fuzz every operation whose path matches ``path_regex``."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=path_regex)
    report = FuzzReport()
    for result in schema.get_all_operations():
        op = result.ok()
        report.operations += 1
        fuzz_operation(op, headers_for(op.path), max_examples, report)
    return report


def fuzz_operation(op: Any, headers: dict[str, str], max_examples: int, report: FuzzReport) -> None:
    """Fuzz one operation with fixed credentials, adding to ``report``."""

    @given(case=op.as_strategy())
    @hsettings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
        database=None,
    )
    def run(case: Any) -> None:
        report.cases += 1
        case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as exc:
            report.failures.append((op.method, op.path, response.status_code, str(exc)[:300]))

    run()
