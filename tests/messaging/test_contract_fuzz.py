"""schemathesis over the messaging part of the contract: no 5xx, no schema violations.

The survivor's token drives /v1/survivor/, the advocate's /v1/staff/; the Twilio webhooks are
fuzzed unsigned and must answer their documented 403 problem.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from core.runtime import Runtime
from tests.factories import auth_header, make_staff, make_survivor
from tests.fuzzing import fuzz_contract

PATHS = r"^/v1/(survivor/(messages|phone)|staff/(survivors/[^/]+/messages|messages)|sms/)"


def test_messaging_contract_holds_under_fuzzing(
    app: Flask, db_session: Session, runtime: Runtime
) -> None:
    advocate, staff_token = make_staff(db_session, runtime)
    _survivor, token = make_survivor(db_session, runtime, advocate=advocate)
    db_session.commit()

    def headers_for(path: str) -> dict[str, str]:
        if path.startswith("/v1/staff/"):
            return auth_header(staff_token)
        return auth_header(token) if path.startswith("/v1/survivor/") else {}

    report = fuzz_contract(app, path_regex=PATHS, headers_for=headers_for, max_examples=8)
    assert report.operations >= 14
    assert not report.failures, report.summary()
