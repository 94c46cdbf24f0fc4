"""One way to fuzz part of the contract with schemathesis, for every domain's test.

Each operation gets a bounded number of generated cases, sent in-process with the
credential ``headers_for(path)`` chooses; every response must be no server error, a
documented status, a documented content type and a body matching the schema. Each case is
then sent once more with one of the input shapes that once crashed the service (a lone
surrogate, deep nesting, a huge integer, NUL...: ``tests/input_shapes.py``) put in place of one
of its JSON fields or query parameters; that must be a 4xx problem.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis import APIOperation, BaseSchema
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.input_shapes import BODY_SHAPES, QUERY_VALUES, leaves, with_value

# Not "positive data acceptance": a schema-valid request can rightly be refused by a business
# rule (a weak PIN, a PUT without If-Match), which that check would count as a failure.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# How hard the contract is fuzzed: ``make test`` (the minutes-long loop a developer runs) takes a
# third of each bound; ``make test-all`` and CI set LANTERN_FUZZ_DEPTH=deep and take all of it.
# The same strategies either way: a quick run is fewer cases, not other kinds of case.
FUZZ_DEPTH = os.environ.get("LANTERN_FUZZ_DEPTH", "quick")
if FUZZ_DEPTH not in ("quick", "deep"):
    raise RuntimeError(f"LANTERN_FUZZ_DEPTH must be quick or deep, not {FUZZ_DEPTH!r}")


def fuzz_examples(deep: int) -> int:
    """The number of generated cases per operation at this run's depth, for a deep bound."""
    return deep if FUZZ_DEPTH == "deep" else max(2, deep // 3)


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
    for op in operations(schema):
        report.operations += 1
        fuzz_operation(op, headers_for(op.path), max_examples, report)
    return report


def operations(schema: BaseSchema) -> Iterator[APIOperation[Any, Any, Any, Any]]:
    """Each operation of ``schema``; one that schemathesis cannot read fails the run, loudly."""
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        yield result.ok()


def fuzz_operation(op: Any, headers: dict[str, str], max_examples: int, report: FuzzReport) -> None:
    """Fuzz one operation with fixed credentials, adding to ``report``."""

    @given(case=op.as_strategy())
    @hsettings(
        max_examples=fuzz_examples(max_examples),
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
        failure = send_a_shape(case)
        if failure:
            report.failures.append((op.method, op.path, *failure))

    run()


def send_a_shape(case: Any, **call: Any) -> tuple[int, str] | None:
    """Send ``case`` again with one input shape in one JSON field or query parameter.

    Which shape and where is chosen from the case itself, so that hypothesis generates (and
    shrinks) exactly the cases it would without this step.

    Returns (status, what was sent) when the answer is not a clean refusal: a body shape must
    be a 4xx problem, a query shape no server error (and NUL a 4xx). ``call`` goes to
    ``case.call`` (``app=`` for a schema loaded from a file).
    """
    if case.method.upper() != case.operation.method.upper():
        return None  # schemathesis also tries methods the operation lacks (405, OPTIONS)
    headers = {**(case.headers or {}), **call.pop("headers", {})}
    choose = random.Random(repr((case.path_parameters, case.query, case.body))).choice
    body = case.body
    if isinstance(body, (dict, list)) and "json" in (case.media_type or ""):
        path = choose([(), *leaves(body)])
        name = choose(sorted(BODY_SHAPES))
        raw = with_value(body, path, BODY_SHAPES[name]).encode()
        r = case.call(data=raw, headers={**headers, "Content-Type": "application/json"}, **call)
        refused = 400 <= r.status_code < 500
        what = f"{name} at {path}"
    elif case.query:
        param = choose(sorted(case.query))
        name = choose(sorted(QUERY_VALUES))
        r = case.call(params={param: QUERY_VALUES[name]}, headers=headers, **call)
        refused = 400 <= r.status_code < 500 if name == "nul" else r.status_code < 500
        what = f"{name} in ?{param}"
    else:
        return None
    # schemathesis keeps headers with lower-case names and lists of values.
    problem = r.status_code < 400 or r.headers.get("content-type") == ["application/problem+json"]
    return None if refused and problem else (r.status_code, what)
