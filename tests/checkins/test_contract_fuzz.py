"""schemathesis over the check-in part of the contract: no 5xx, no schema violations."""

from __future__ import annotations

from flask import Flask

from tests.checkins.conftest import World
from tests.factories import auth_header
from tests.fuzzing import fuzz_contract

PATHS = r"^/v1/(survivor/check-ins|staff/escalations)"


def test_check_in_contract_holds_under_fuzzing(world: World, app: Flask) -> None:
    def headers_for(path: str) -> dict[str, str]:
        staff = path.startswith("/v1/staff/")
        return auth_header(world.advocate_token if staff else world.survivor_token)

    report = fuzz_contract(app, path_regex=PATHS, headers_for=headers_for, max_examples=10)
    assert report.operations >= 11
    assert not report.failures, report.summary()
