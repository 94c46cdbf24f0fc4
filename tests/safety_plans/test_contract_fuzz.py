"""schemathesis over the safety_plans part of the contract: no 5xx, no schema violations.

The survivor's token drives /v1/survivor/ and /v1/instruments, the advocate's /v1/staff/.
Path ids are random, so most staff calls exercise refusals; the owner paths are covered by
the behaviour tests.
"""

from __future__ import annotations

from flask import Flask

from tests.fuzzing import fuzz_contract
from tests.safety_plans.conftest import Party

PATHS = (
    r"^/v1/(instruments|survivor/(safety-plan|decoy-plan|advocate-sharing|priorities|assessments"
    r"|recommendations|journal)|staff/survivors/[^/]+/(safety-plan|assessments|marac-eligibility"
    r"|recommendations|journal))"
)


def test_safety_plans_contract_holds_under_fuzzing(app: Flask, party: Party) -> None:
    def headers_for(path: str) -> dict[str, str]:
        return party.advocate_headers if path.startswith("/v1/staff/") else party.survivor_headers

    report = fuzz_contract(app, path_regex=PATHS, headers_for=headers_for)
    assert report.operations >= 30
    assert not report.failures, report.summary()
