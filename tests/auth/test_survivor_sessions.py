"""Survivor device sessions: refresh rotation and reuse, quick exit, devices, PIN changes."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth import attempts
from auth.survivors import decoys
from auth.survivors.models import Survivor, SurvivorDevice, SurvivorRefreshToken
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import token_digest
from core.runtime import Runtime
from tests.auth.attempt_probes import pin_count, pin_retry_after
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_header,
    make_device,
    make_staff,
    make_survivor,
    make_survivor_account,
)
from tests.json_client import JsonClient

REFRESH = "/v1/survivor/token/refresh"
DEVICES = "/v1/survivor/devices"

_n = iter(range(1, 100_000))


def login(client: JsonClient, handle: str, pin: str = SURVIVOR_PIN, label: str = "News") -> Any:
    r = client.post(
        "/v1/survivor/login",
        json={"account_handle": handle, "pin": pin, "device_label": label},
        environ_base={"REMOTE_ADDR": f"10.20.{next(_n) // 250}.{next(_n) % 250}"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.json


def refresh(client: JsonClient, token: str) -> Any:
    return client.post(REFRESH, json={"refresh_token": token})


def actions(db_session: Session) -> list[str]:
    db_session.expire_all()
    return list(db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


# --- refresh ------------------------------------------------------------------------------


def test_refresh_rotates_both_tokens_and_spends_the_old_one(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    first = login(client, handle)
    clock.advance(minutes=10)
    r = refresh(client, first["refresh_token"])
    assert r.status_code == 200
    second = r.json
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert dt.datetime.fromisoformat(second["access_expires_at"]) == clock.now() + dt.timedelta(
        minutes=15
    )
    used = db_session.scalars(
        select(SurvivorRefreshToken).where(
            SurvivorRefreshToken.token_digest == token_digest(first["refresh_token"])
        )
    ).one()
    assert used.used_at == clock.now()
    # The old access token was replaced; the new one works.
    assert client.get(DEVICES, headers=auth_header(first["access_token"])).status_code == 401
    assert client.get(DEVICES, headers=auth_header(second["access_token"])).status_code == 200
    # And the chain goes on.
    assert refresh(client, second["refresh_token"]).status_code == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family_and_is_audited(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    other_device = login(client, handle, label="Other")
    first = login(client, handle)
    second = refresh(client, first["refresh_token"]).json
    third = refresh(client, second["refresh_token"]).json

    reuse = refresh(client, first["refresh_token"])  # a thief (or the owner) replays it
    assert reuse.status_code == 401
    assert reuse.headers["WWW-Authenticate"].startswith("Bearer")
    # Everything of that device session is dead: the live access and refresh tokens too.
    assert client.get(DEVICES, headers=auth_header(third["access_token"])).status_code == 401
    assert refresh(client, third["refresh_token"]).status_code == 401
    device = db_session.scalars(
        select(SurvivorDevice).where(
            SurvivorDevice.access_digest == token_digest(third["access_token"])
        )
    ).one()
    assert device.revoked_reason == "refresh_reuse"
    live = db_session.scalars(
        select(SurvivorRefreshToken).where(
            SurvivorRefreshToken.device_id == device.id, SurvivorRefreshToken.used_at.is_(None)
        )
    ).all()
    assert live == []
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survivor.refresh_reuse")
    ).one()
    assert event.subject_id == device.id
    assert event.survivor_id == survivor.id
    # Another device session of the same survivor is not touched.
    assert client.get(DEVICES, headers=auth_header(other_device["access_token"])).status_code == 200
    # Replaying again is refused without a second revocation event.
    assert refresh(client, first["refresh_token"]).status_code == 401
    assert actions(db_session).count("survivor.refresh_reuse") == 1


def test_refresh_refuses_unknown_expired_and_wrong_kind_tokens(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    tokens = login(client, handle)
    assert refresh(client, "sr_" + "A" * 43).status_code == 401
    assert refresh(client, tokens["access_token"]).status_code == 401  # an access token
    assert refresh(client, "x" * 129).status_code == 422
    clock.advance(days=30, seconds=1)
    assert refresh(client, tokens["refresh_token"]).status_code == 401


def test_access_token_lives_fifteen_minutes(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    tokens = login(client, handle)
    clock.advance(minutes=14, seconds=59)
    assert client.get(DEVICES, headers=auth_header(tokens["access_token"])).status_code == 200
    clock.advance(seconds=1)
    assert client.get(DEVICES, headers=auth_header(tokens["access_token"])).status_code == 401
    assert refresh(client, tokens["refresh_token"]).status_code == 200


# --- quick exit ---------------------------------------------------------------------------


def test_quick_exit_ends_every_session_of_that_survivor_only(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    sessions = [login(client, handle, label=f"Phone {i}") for i in range(3)]
    _, bystander = make_survivor(db_session, runtime)

    started = time.perf_counter()
    r = client.post("/v1/survivor/quick-exit", headers=auth_header(sessions[0]["access_token"]))
    elapsed = time.perf_counter() - started
    assert r.status_code == 204
    assert r.data == b""
    assert elapsed < 1.0  # no argon2, no per-device work: it answers at once

    for tokens in sessions:
        assert client.get(DEVICES, headers=auth_header(tokens["access_token"])).status_code == 401
        assert refresh(client, tokens["refresh_token"]).status_code == 401
    devices = db_session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.survivor_id == survivor.id)
    ).all()
    assert {d.revoked_reason for d in devices} == {"quick_exit"}
    assert client.get(DEVICES, headers=auth_header(bystander)).status_code == 200
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survivor.quick_exit")
    ).one()
    assert event.survivor_id == survivor.id
    # It needs the survivor's access token and nothing else.
    assert client.post("/v1/survivor/quick-exit").status_code == 401
    staff = make_staff(db_session, runtime)[1]
    assert client.post("/v1/survivor/quick-exit", headers=auth_header(staff)).status_code == 403


def test_quick_exit_is_one_statement_on_the_device_table(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    from sqlalchemy import event

    survivor, token = make_survivor(db_session, runtime)
    for _ in range(5):
        make_device(db_session, runtime, survivor.id)
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.post("/v1/survivor/quick-exit", headers=auth_header(token)).status_code == 204
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE SURVIVOR_DEVICES")]
    assert len(updates) == 1


# --- devices ------------------------------------------------------------------------------


def test_devices_lists_active_sessions_with_decrypted_labels(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    _survivor, handle = make_survivor_account(db_session, runtime)
    a = login(client, handle, label="Kitchen tablet")
    clock.advance(minutes=1)
    b = login(client, handle, label="Phone")
    ended = login(client, handle, label="Old phone")
    client.delete(
        f"{DEVICES}/{_device_id(db_session, ended)}", headers=auth_header(ended["access_token"])
    )
    r = client.get(DEVICES, headers=auth_header(b["access_token"]))
    assert r.status_code == 200
    assert [(d["label"], d["current"]) for d in r.json] == [
        ("Kitchen tablet", False),
        ("Phone", True),
    ]
    assert set(r.json[0]) == {"id", "label", "created_at", "last_seen_at", "current"}
    # Labels are sealed with the survivor's key, bound to the row.
    row = db_session.get(SurvivorDevice, uuid.UUID(r.json[0]["id"]))
    assert row is not None
    assert row.label_enc is not None
    assert b"Kitchen" not in row.label_enc
    assert a["access_token"] not in r.get_data(as_text=True)


def _device_id(db_session: Session, tokens: dict[str, str]) -> uuid.UUID:
    return db_session.scalars(
        select(SurvivorDevice.id).where(
            SurvivorDevice.access_digest == token_digest(tokens["access_token"])
        )
    ).one()


def test_survivor_ends_one_of_their_devices_but_not_anyone_elses(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _survivor, handle = make_survivor_account(db_session, runtime)
    mine = login(client, handle)
    lost = login(client, handle, label="Lost phone")
    other_survivor, other_token = make_survivor(db_session, runtime)
    theirs = db_session.scalars(
        select(SurvivorDevice.id).where(SurvivorDevice.survivor_id == other_survivor.id)
    ).one()
    me = auth_header(mine["access_token"])

    assert client.delete(f"{DEVICES}/{theirs}", headers=me).status_code == 404
    assert client.delete(f"{DEVICES}/{uuid.uuid4()}", headers=me).status_code == 404
    assert client.get(DEVICES, headers=auth_header(other_token)).status_code == 200

    lost_id = _device_id(db_session, lost)
    assert client.delete(f"{DEVICES}/{lost_id}", headers=me).status_code == 204
    assert client.get(DEVICES, headers=auth_header(lost["access_token"])).status_code == 401
    assert refresh(client, lost["refresh_token"]).status_code == 401
    assert client.delete(f"{DEVICES}/{lost_id}", headers=me).status_code == 404  # already ended
    assert "survivor.device_ended" in actions(db_session)
    staff = auth_header(make_staff(db_session, runtime)[1])
    assert client.get(DEVICES, headers=staff).status_code == 403


# --- PIN and duress PIN -------------------------------------------------------------------


def test_change_pin_needs_the_current_pin_and_ends_other_sessions(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _survivor, handle = make_survivor_account(db_session, runtime)
    here = login(client, handle)
    elsewhere = login(client, handle)
    me = auth_header(here["access_token"])

    wrong = client.post(
        "/v1/survivor/pin", json={"current_pin": "550917", "new_pin": "602718"}, headers=me
    )
    assert wrong.status_code == 403
    assert b"request_id" not in wrong.data
    weak = client.post(
        "/v1/survivor/pin", json={"current_pin": SURVIVOR_PIN, "new_pin": "123456"}, headers=me
    )
    assert weak.status_code == 422
    assert "new_pin" in weak.json["errors"]
    clash = client.post(
        "/v1/survivor/pin",
        json={"current_pin": SURVIVOR_PIN, "new_pin": SURVIVOR_DURESS_PIN},
        headers=me,
    )
    assert clash.status_code == 422
    assert "new_pin" in clash.json["errors"]

    ok = client.post(
        "/v1/survivor/pin", json={"current_pin": SURVIVOR_PIN, "new_pin": "602718"}, headers=me
    )
    assert ok.status_code == 204
    assert client.get(DEVICES, headers=me).status_code == 200
    assert client.get(DEVICES, headers=auth_header(elsewhere["access_token"])).status_code == 401
    assert (
        client.post(
            "/v1/survivor/login", json={"account_handle": handle, "pin": SURVIVOR_PIN}
        ).status_code
        == 401
    )
    login(client, handle, pin="602718")
    assert "survivor.pin_changed" in actions(db_session)


def test_in_session_pin_checks_are_throttled(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    survivor, token = make_survivor(db_session, runtime)
    me = auth_header(token)
    answers = [
        client.post(
            "/v1/survivor/pin", json={"current_pin": f"55091{i}", "new_pin": "602718"}, headers=me
        )
        for i in range(attempts.SURVIVOR_PIN.allowance)
    ]
    assert {r.status_code for r in answers} == {403}
    assert pin_count(runtime, db_session, survivor.id) == 5
    # After the allowance, even the right PIN is refused for a while, with the same answer,
    # and without being counted.
    right = client.post(
        "/v1/survivor/pin", json={"current_pin": SURVIVOR_PIN, "new_pin": "602718"}, headers=me
    )
    assert right.status_code == 403
    assert right.data == answers[0].data
    assert pin_count(runtime, db_session, survivor.id) == 5
    db_session.expire_all()
    assert runtime.hasher.verify(db_session.get_one(Survivor, survivor.id).pin_hash, SURVIVOR_PIN)
    # Once the lock has run out, the right PIN is checked again and accepted.
    clock.advance(seconds=pin_retry_after(runtime, db_session, survivor.id))
    right = client.post(
        "/v1/survivor/pin", json={"current_pin": SURVIVOR_PIN, "new_pin": "602718"}, headers=me
    )
    assert right.status_code == 204
    assert pin_count(runtime, db_session, survivor.id) == 0


def test_in_session_checks_and_login_share_one_lock(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """A live session is not a second, separate guessing channel for the same PIN."""
    survivor, handle = make_survivor_account(db_session, runtime)
    me = auth_header(login(client, handle)["access_token"])
    decoy = auth_header(login(client, handle, pin=SURVIVOR_DURESS_PIN)["access_token"])
    # Two wrong PINs at login, two in the real session, one in the decoy session...
    for _ in range(2):
        r = client.post("/v1/survivor/login", json={"account_handle": handle, "pin": "550917"})
        assert r.status_code == 401
    for headers in (me, me, decoy):
        r = client.put(
            "/v1/survivor/duress-pin",
            json={"current_pin": "550917", "duress_pin": "913572"},
            headers=headers,
        )
        assert r.status_code == 403
    assert pin_count(runtime, db_session, survivor.id) == 5
    # ...and the account is locked everywhere: at login and in both sessions.
    assert pin_retry_after(runtime, db_session, survivor.id) == 30
    r = client.post("/v1/survivor/login", json={"account_handle": handle, "pin": SURVIVOR_PIN})
    assert r.status_code == 401
    for headers, pin in ((me, SURVIVOR_PIN), (decoy, SURVIVOR_DURESS_PIN)):
        r = client.post(
            "/v1/survivor/pin", json={"current_pin": pin, "new_pin": "602718"}, headers=headers
        )
        assert r.status_code == 403


def test_set_and_remove_the_duress_pin(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    me = auth_header(login(client, handle)["access_token"])
    put = "/v1/survivor/duress-pin"

    same = client.put(
        put, json={"current_pin": SURVIVOR_PIN, "duress_pin": SURVIVOR_PIN}, headers=me
    )
    assert same.status_code == 422
    assert "duress_pin" in same.json["errors"]
    wrong = client.put(put, json={"current_pin": "550917", "duress_pin": "913572"}, headers=me)
    assert wrong.status_code == 403
    assert client.put(put, json={"current_pin": SURVIVOR_PIN}, headers=me).status_code == 422

    assert (
        client.put(
            put, json={"current_pin": SURVIVOR_PIN, "duress_pin": "913572"}, headers=me
        ).status_code
        == 204
    )
    decoy = decoys.decoy_account(db_session, survivor.id)
    assert decoy is not None
    db_session.refresh(decoy)
    assert runtime.hasher.verify(decoy.pin_hash, "913572")
    r = client.post("/v1/survivor/login", json={"account_handle": handle, "pin": "913572"})
    assert r.status_code == 200
    opened = db_session.scalars(
        select(SurvivorDevice).where(
            SurvivorDevice.access_digest == token_digest(r.json["access_token"])
        )
    ).one()
    assert (opened.decoy, opened.survivor_id) == (True, decoy.id)
    duress_session = auth_header(r.json["access_token"])
    assert client.get(DEVICES, headers=duress_session).status_code == 200

    assert (
        client.put(
            put, json={"current_pin": SURVIVOR_PIN, "duress_pin": None}, headers=me
        ).status_code
        == 204
    )
    db_session.refresh(decoy)
    assert decoy.pin_hash is None  # the decoy is kept, unreachable, in case it is set again
    # The session opened with the removed duress PIN ends with it; the real one does not.
    assert client.get(DEVICES, headers=duress_session).status_code == 401
    assert client.get(DEVICES, headers=me).status_code == 200
    r = client.post("/v1/survivor/login", json={"account_handle": handle, "pin": "913572"})
    assert r.status_code == 401
    # Audited for staff, but never against the survivor's own record.
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action.startswith("survivor.duress_pin"))
    ).all()
    assert [e.action for e in events] == ["survivor.duress_pin_set", "survivor.duress_pin_removed"]
    assert all(e.survivor_id is None and e.actor_id is None for e in events)
