"""Staff sessions: timeouts, logout, ending other sessions, credential changes, step-up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.attempts import STAFF_ACCOUNT_TOTAL
from auth.staff.models import StaffSession
from auth.staff.sessions import account_subject
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.runtime import Runtime
from tests.auth.attempt_probes import count
from tests.auth.factories_staff import (
    NEW_PASSWORD,
    fresh_code,
    headers,
    login,
    login_ticket,
    make_member,
    post,
)
from tests.json_client import JsonClient


def _me(client: JsonClient, token: str) -> int:
    return client.get("/v1/staff/me", headers=headers(token)).status_code


def test_idle_timeout(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    token = login(client, make_member(db_session, runtime), clock)
    clock.advance(minutes=29)
    assert _me(client, token) == 200  # use keeps it alive...
    clock.advance(minutes=29)
    assert _me(client, token) == 200
    clock.advance(minutes=30, seconds=1)
    assert _me(client, token) == 401  # ...and 30 idle minutes end it


def test_absolute_lifetime_even_when_always_in_use(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    started = clock.now()
    token = login(client, staff, clock)
    end = started + dt.timedelta(hours=12)
    while clock.now() + dt.timedelta(minutes=25) < end:
        clock.advance(minutes=25)
        assert _me(client, token) == 200
    clock.set(end)
    assert _me(client, token) == 401


def test_logout_ends_this_session_only(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    first, second = login(client, staff, clock), login(client, staff, clock)
    r = post(client, "/v1/staff/logout", None, first)
    assert r.status_code == 204
    assert _me(client, first) == 401
    assert _me(client, second) == 200
    row = db_session.scalars(select(StaffSession).where(StaffSession.revoked_at.is_not(None))).one()
    assert row.revoked_reason == "logout"
    actions = db_session.scalars(select(AuditEvent.action)).all()
    assert "staff.logout" in actions


def test_enrolment_session_can_log_out(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    token = login_ticket(client, make_member(db_session, runtime, enrolled=False))
    assert post(client, "/v1/staff/logout", None, token).status_code == 204
    assert _me(client, token) == 401


def test_list_own_sessions_without_digests(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    stranger = make_member(db_session, runtime)
    login(client, stranger, clock)
    old = login(client, staff, clock)
    current = login(client, staff, clock)
    post(client, "/v1/staff/logout", None, old)
    r = client.get("/v1/staff/sessions", headers=headers(current))
    assert r.status_code == 200
    sessions = r.json["sessions"]
    assert len(sessions) == 1
    assert sessions[0]["current"] is True
    fields = {"id", "stage", "created_at", "last_seen_at", "expires_at", "current"}
    assert set(sessions[0]) == fields
    assert current not in r.get_data(as_text=True)


def test_end_other_sessions(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    keep, a, b = (login(client, staff, clock) for _ in range(3))
    r = post(client, "/v1/staff/sessions/end-others", None, keep)
    assert r.status_code == 200
    assert r.json == {"ended": 2}
    assert (_me(client, keep), _me(client, a), _me(client, b)) == (200, 401, 401)
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.sessions_ended")
    ).one()
    assert event.details == {"scope": "others", "count": 2}


def test_password_change_needs_password_and_fresh_code_and_ends_other_sessions(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    assert staff.seed is not None
    token, other = login(client, staff, clock), login(client, staff, clock)

    def change(current: str, code: str, new: str) -> int:
        body = {"current_password": current, "code": code, "new_password": new}
        return post(client, "/v1/staff/password", body, token).status_code

    assert change("not my password!", fresh_code(staff.seed, clock), NEW_PASSWORD) == 403
    assert change(staff.password, "000000", NEW_PASSWORD) == 403
    assert count(runtime, db_session, STAFF_ACCOUNT_TOTAL, account_subject(staff.email)) == 2
    # A refused new password does not use up the code: the same code then works.
    code = fresh_code(staff.seed, clock)
    assert change(staff.password, code, "password1234") == 422
    assert change(staff.password, code, staff.password) == 422  # not the current one
    assert change(staff.password, code, NEW_PASSWORD) == 200
    assert _me(client, token) == 200
    assert _me(client, other) == 401
    # The old password no longer logs in; the new one does.
    refused = post(client, "/v1/staff/login", {"email": staff.email, "password": staff.password})
    assert refused.status_code == 401
    staff.password = NEW_PASSWORD
    assert login(client, staff, clock)
    failures = db_session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "staff.reauthentication_failed")
    ).all()
    assert [f["reason"] for f in failures] == ["wrong_password", "wrong_code"]


def test_step_up_refreshes_the_second_factor_once_per_code(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    staff = make_member(db_session, runtime)
    assert staff.seed is not None
    token = login(client, staff, clock)
    clock.advance(minutes=20)
    code = fresh_code(staff.seed, clock)
    r = post(client, "/v1/staff/step-up", {"code": code}, token)
    assert r.status_code == 200
    assert r.json == {"second_factor_at": clock.now().isoformat()}
    me = client.get("/v1/staff/me", headers=headers(token)).json
    assert me["second_factor_at"] == clock.now().isoformat()
    replay = post(client, "/v1/staff/step-up", {"code": code}, token)
    assert replay.status_code == 403
    assert replay.json["type"].endswith("reauthentication-failed")
