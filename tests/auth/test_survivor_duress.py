"""Duress PIN: a login that looks normal, opens a decoy, and silently raises the alarm."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.registry import job_registry
from api.wiring import wire
from auth.survivors import decoys
from auth.survivors import sessions as survivor_sessions
from auth.survivors.duress import DURESS_ALERT, DURESS_LISTENER_RETRY
from auth.survivors.models import Survivor, SurvivorDevice
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.hooks import Collaborators
from core.jobs import DEAD, DONE, Job, JobContext, enqueue
from core.notices import StaffNotice
from core.runtime import Runtime
from core.worker import Worker
from tests.auth.attempt_probes import pin_retry_after
from tests.factories import (
    SURVIVOR_DURESS_PIN,
    SURVIVOR_PIN,
    auth_deps,
    auth_header,
    make_device,
    make_staff,
    make_survivor_account,
)
from tests.json_client import JsonClient

LOGIN = "/v1/survivor/login"
TOKEN = re.compile(r"^(sa|sr)_[A-Za-z0-9_-]{43}$")


def login(client: JsonClient, handle: str, pin: str, addr: str = "10.9.0.1") -> Any:
    return client.post(
        LOGIN,
        json={"account_handle": handle, "pin": pin, "device_label": "Weather"},
        environ_base={"REMOTE_ADDR": addr},
    )


def run_worker(runtime: Runtime, session_factory: sessionmaker[Session], clock: FrozenClock) -> int:
    worker = Worker(session_factory, job_registry(runtime), clock)
    return worker.run_once()


def shape(value: Any) -> Any:
    """What a response looks like, without its random values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"[A-Za-z0-9_-]", "x", value)
    return type(value).__name__


def test_duress_login_is_indistinguishable_from_a_pin_login(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, handle = make_survivor_account(db_session, runtime, make_staff(db_session, runtime)[0])
    real = login(client, handle, SURVIVOR_PIN)
    decoy = login(client, handle, SURVIVOR_DURESS_PIN)
    assert real.status_code == decoy.status_code == 200
    assert list(real.json) == list(decoy.json)
    assert shape(real.json) == shape(decoy.json)
    for key in ("access_token", "refresh_token"):
        assert TOKEN.match(real.json[key])
        assert TOKEN.match(decoy.json[key])
        assert real.json[key][:3] == decoy.json[key][:3]
    assert real.json["access_expires_at"] == decoy.json["access_expires_at"]
    strip = {"X-Request-Id"}
    assert {k: v for k, v in real.headers if k not in strip} == {
        k: v for k, v in decoy.headers if k not in strip
    }

    # What each session then sees of itself has the same shape too.
    for path in ("/v1/survivor/devices", "/v1/survivor/access-log"):
        a = client.get(path, headers=auth_header(real.json["access_token"]))
        b = client.get(path, headers=auth_header(decoy.json["access_token"]))
        assert a.status_code == b.status_code == 200
        assert set(a.headers.keys()) == set(b.headers.keys())
    a = client.get("/v1/survivor/devices", headers=auth_header(real.json["access_token"])).json
    b = client.get("/v1/survivor/devices", headers=auth_header(decoy.json["access_token"])).json
    assert [set(d) for d in a][:1] == [set(d) for d in b]

    # Refresh answers the same way for both.
    ra = client.post(
        "/v1/survivor/token/refresh", json={"refresh_token": real.json["refresh_token"]}
    )
    rb = client.post(
        "/v1/survivor/token/refresh", json={"refresh_token": decoy.json["refresh_token"]}
    )
    assert ra.status_code == rb.status_code == 200
    assert shape(ra.json) == shape(rb.json)


def test_duress_login_opens_a_decoy_and_queues_the_alert_in_the_same_transaction(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    assert login(client, handle, SURVIVOR_DURESS_PIN).status_code == 200
    # The device is opened on the decoy account; the real account gets none.
    decoy = decoys.decoy_account(db_session, survivor.id)
    assert decoy is not None
    device = db_session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.survivor_id == decoy.id)
    ).one()
    assert device.decoy is True
    assert (
        db_session.scalars(
            select(SurvivorDevice).where(SurvivorDevice.survivor_id == survivor.id)
        ).all()
        == []
    )
    job = db_session.scalars(select(Job).where(Job.kind == DURESS_ALERT)).one()
    assert job.payload == {"survivor_id": str(survivor.id), "device_id": str(device.id)}
    assert job.dedupe_key == f"duress:{device.id}"

    # Same transaction: undo the login's transaction and the alert goes with the device.
    _, other_handle = make_survivor_account(db_session, runtime)
    nested = db_session.begin_nested()
    survivor_sessions.login(
        db_session,
        runtime.clock,
        auth_deps(runtime),
        account_handle=other_handle,
        pin=SURVIVOR_DURESS_PIN,
        device_label=None,
        client="x",
    )
    assert db_session.scalars(select(Job).where(Job.kind == DURESS_ALERT)).all().__len__() == 2
    nested.rollback()
    assert len(db_session.scalars(select(Job).where(Job.kind == DURESS_ALERT)).all()) == 1
    assert db_session.scalars(select(SurvivorDevice).where(SurvivorDevice.decoy)).all() == [device]


def test_alert_job_notifies_advocates_urgently_and_calls_every_listener(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    second, _ = make_staff(db_session, runtime)
    make_staff(db_session, runtime, role="supervisor")  # not on the caseload: not told
    survivor, handle = make_survivor_account(db_session, runtime, advocate)
    from auth.access.models import CaseloadEntry

    db_session.add(
        CaseloadEntry(survivor_id=survivor.id, staff_id=second.id, assigned_at=clock.now())
    )
    db_session.flush()
    called: list[tuple[uuid.UUID, str]] = []

    def listener(ctx: JobContext, survivor_id: uuid.UUID) -> None:
        called.append((survivor_id, ctx.job.kind))

    wire(runtime).hooks.duress.register("test.listener", listener)
    assert login(client, handle, SURVIVOR_DURESS_PIN).status_code == 200
    run_worker(runtime, session_factory, clock)

    db_session.expire_all()
    notices = list(db_session.scalars(select(StaffNotice).where(StaffNotice.kind == "duress")))
    assert {n.recipient_id for n in notices} == {advocate.id, second.id}
    assert {(n.urgency, n.survivor_id) for n in notices} == {("urgent", survivor.id)}
    assert called == [(survivor.id, DURESS_ALERT)]
    assert db_session.scalars(select(Job.state).where(Job.kind == DURESS_ALERT)).one() == DONE


def test_a_failing_listener_neither_silences_the_alarm_nor_the_others_and_is_retried(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    _, handle = make_survivor_account(db_session, runtime, advocate)
    broken = {"on": True}
    after: list[uuid.UUID] = []

    def flaky(ctx: JobContext, survivor_id: uuid.UUID) -> None:
        ctx.session.add(
            StaffNotice(
                recipient_id=advocate.id,
                kind="flaky_write",
                urgency="info",
                created_at=ctx.clock.now(),
            )
        )
        ctx.session.flush()
        if broken["on"]:
            raise RuntimeError("partner gateway misconfigured")

    def healthy(ctx: JobContext, survivor_id: uuid.UUID) -> None:
        after.append(survivor_id)

    duress_hook = wire(runtime).hooks.duress
    duress_hook.register("test.flaky", flaky)
    duress_hook.register("test.healthy", healthy)
    login(client, handle, SURVIVOR_DURESS_PIN)
    run_worker(runtime, session_factory, clock)

    db_session.expire_all()
    mine = StaffNotice.kind.in_(("duress", "flaky_write"))  # other domains listen too
    kinds = list(db_session.scalars(select(StaffNotice.kind).where(mine)))
    assert kinds == ["duress"]  # the broken listener's own write was rolled back
    assert len(after) == 1
    retry = db_session.scalars(select(Job).where(Job.kind == DURESS_LISTENER_RETRY)).one()
    assert retry.payload["listener"] == "test.flaky"  # its registered name

    broken["on"] = False
    run_worker(runtime, session_factory, clock)
    db_session.expire_all()
    assert sorted(db_session.scalars(select(StaffNotice.kind).where(mine))) == [
        "duress",
        "flaky_write",
    ]
    assert len(after) == 1  # only the failed listener was run again
    assert db_session.get_one(Job, retry.id).state == DONE


def test_a_retry_finds_its_listener_by_name_after_the_function_is_renamed(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    """A retry stores the name its listener is registered under: a release that renames or
    moves the function still runs every retry queued before it."""
    advocate, _ = make_staff(db_session, runtime)
    survivor, handle = make_survivor_account(db_session, runtime, advocate)

    def tell_partners(ctx: JobContext, survivor_id: uuid.UUID) -> None:
        raise RuntimeError("partner gateway down")

    wire(runtime).hooks.duress.register("test.partner_alert", tell_partners)
    login(client, handle, SURVIVOR_DURESS_PIN)
    run_worker(runtime, session_factory, clock)
    db_session.expire_all()
    retry = db_session.scalars(select(Job).where(Job.kind == DURESS_LISTENER_RETRY)).one()
    assert retry.payload["listener"] == "test.partner_alert"

    # The next release's worker: the same listener under a new function name and module path.
    ran: list[uuid.UUID] = []

    def send_partner_duress_alert(ctx: JobContext, survivor_id: uuid.UUID) -> None:
        ran.append(survivor_id)

    send_partner_duress_alert.__module__ = "coordination.partner_alerts"
    released = Runtime(**{**runtime.__dict__, "collaborators": Collaborators()})
    wire(released).hooks.duress.register("test.partner_alert", send_partner_duress_alert)
    run_worker(released, session_factory, clock)
    db_session.expire_all()
    assert ran == [survivor.id]
    assert db_session.get_one(Job, retry.id).state == DONE


def test_a_retry_for_a_name_no_longer_registered_is_dead_lettered_at_once(
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    survivor, _ = make_survivor_account(db_session, runtime, advocate)
    retry = enqueue(
        db_session,
        clock,
        DURESS_LISTENER_RETRY,
        {"survivor_id": str(survivor.id), "listener": "test.gone", "alert_job": str(uuid.uuid4())},
        max_attempts=20,
    )
    db_session.commit()
    run_worker(runtime, session_factory, clock)
    db_session.expire_all()
    dead = db_session.get(Job, retry.id)
    assert dead is not None
    assert (dead.state, dead.attempts, dead.last_error) == (DEAD, 1, "PermanentJobError")


def test_without_an_active_advocate_supervisors_are_alerted(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    supervisor, _ = make_staff(db_session, runtime, role="supervisor")
    _, handle = make_survivor_account(db_session, runtime, advocate)
    advocate.disabled_at = clock.now()
    db_session.flush()
    login(client, handle, SURVIVOR_DURESS_PIN)
    run_worker(runtime, session_factory, clock)
    db_session.expire_all()
    notice = db_session.scalars(select(StaffNotice).where(StaffNotice.kind == "duress")).one()
    assert notice.recipient_id == supervisor.id


def test_no_trace_of_the_duress_reaches_anything_the_survivor_can_read(
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    survivor, handle = make_survivor_account(
        db_session, runtime, make_staff(db_session, runtime)[0]
    )
    decoy = login(client, handle, SURVIVOR_DURESS_PIN).json
    run_worker(runtime, session_factory, clock)
    real = login(client, handle, SURVIVOR_PIN).json

    db_session.expire_all()
    # This domain's events about the survivor (other domains' duress listeners conceal theirs
    # through the access log's prefix list, checked through the endpoint below).
    mine = list(
        db_session.scalars(
            select(AuditEvent).where(
                AuditEvent.survivor_id == survivor.id, AuditEvent.action.startswith("survivor.")
            )
        )
    )
    assert not any("duress" in e.action for e in mine)
    assert not any("decoy" in str(e.details) or "duress" in str(e.details) for e in mine)
    logins = [e for e in mine if e.action == "survivor.login"]
    assert len(logins) == 2
    assert logins[0].details == logins[1].details == {}
    assert {e.actor_kind for e in logins} == {"survivor"}
    # The duress is on record for staff, against the device, with no survivor id or actor.
    secret = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "survivor.duress_login")
    ).one()
    assert secret.survivor_id is None
    assert secret.actor_id is None
    assert secret.subject_kind == "survivor_device"

    for token in (real["access_token"], decoy["access_token"]):
        r = client.get("/v1/survivor/access-log", headers=auth_header(token))
        assert r.status_code == 200
        assert b"duress" not in r.data
        assert b"decoy" not in r.data
        devices = client.get("/v1/survivor/devices", headers=auth_header(token))
        assert b"decoy" not in devices.data
        assert b"duress" not in devices.data


def test_decoy_session_writes_change_the_decoy_and_nothing_real(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    elsewhere, _ = make_device(db_session, runtime, survivor.id)
    decoy = auth_header(login(client, handle, SURVIVOR_DURESS_PIN).json["access_token"])
    pin_hash = survivor.pin_hash

    # The device list shows only the device in hand.
    listed = client.get("/v1/survivor/devices", headers=decoy).json
    assert len(listed) == 1
    assert listed[0]["current"] is True
    assert listed[0]["label"] == "Weather"

    # The rules answer as they would in a real session.
    weak = client.post(
        "/v1/survivor/pin",
        json={"current_pin": SURVIVOR_DURESS_PIN, "new_pin": "111111"},
        headers=decoy,
    )
    assert weak.status_code == 422
    # The real PIN is not the decoy's "current PIN": it is refused like any wrong PIN.
    wrong = client.post(
        "/v1/survivor/pin", json={"current_pin": SURVIVOR_PIN, "new_pin": "602718"}, headers=decoy
    )
    assert wrong.status_code == 403
    # A PIN change succeeds when given the PIN the decoy was opened with...
    r = client.post(
        "/v1/survivor/pin",
        json={"current_pin": SURVIVOR_DURESS_PIN, "new_pin": "602718"},
        headers=decoy,
    )
    assert r.status_code == 204
    assert r.data == b""
    # ...and from then on the new PIN is the decoy's current PIN, as it would be for real.
    for body in ({"duress_pin": "913572"}, {"duress_pin": None}):
        r = client.put(
            "/v1/survivor/duress-pin", json={"current_pin": "602718", **body}, headers=decoy
        )
        assert r.status_code == 204
    # The real account's devices are not the decoy's to see or end.
    assert client.delete(f"/v1/survivor/devices/{elsewhere.id}", headers=decoy).status_code == 404

    db_session.expire_all()
    fresh = db_session.get(Survivor, survivor.id)
    assert fresh is not None
    assert fresh.pin_hash == pin_hash
    assert db_session.get_one(SurvivorDevice, elsewhere.id).revoked_at is None
    # Whatever was recorded was recorded against the decoy account, never the real one.
    real_events = set(
        db_session.scalars(select(AuditEvent.action).where(AuditEvent.survivor_id == survivor.id))
    )
    assert not real_events & {
        "survivor.pin_changed",
        "survivor.duress_pin_set",
        "survivor.duress_pin_removed",
        "survivor.device_ended",
    }
    # The real PIN still logs in to the real account, the new decoy PIN to the decoy.
    assert login(client, handle, SURVIVOR_PIN, addr="10.9.0.2").status_code == 200
    again = login(client, handle, "602718", addr="10.9.0.3")
    assert again.status_code == 200
    listed = client.get("/v1/survivor/devices", headers=auth_header(again.json["access_token"]))
    assert len(listed.json) == 2  # the decoy device in hand before, and this one


def test_wrong_current_pin_answers_the_same_in_decoy_and_real_sessions(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _, handle = make_survivor_account(db_session, runtime)
    decoy = auth_header(login(client, handle, SURVIVOR_DURESS_PIN).json["access_token"])
    real = auth_header(login(client, handle, SURVIVOR_PIN).json["access_token"])
    body = {"current_pin": "550917", "new_pin": "602718"}
    a = client.post("/v1/survivor/pin", json=body, headers=real)
    b = client.post("/v1/survivor/pin", json=body, headers=decoy)
    assert a.status_code == b.status_code == 403
    assert a.data == b.data


def test_duress_pin_typed_at_a_locked_account_still_raises_the_alarm(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    survivor, handle = make_survivor_account(db_session, runtime)
    for i in range(5):  # five wrong PINs in a row: locked for 30 s
        assert login(client, handle, "550917", addr=f"10.9.2.{i}").status_code == 401
    assert pin_retry_after(runtime, db_session, survivor.id) == 30
    assert db_session.scalars(select(Job).where(Job.kind == DURESS_ALERT)).all() == []
    wrong = login(client, handle, "550917", addr="10.9.1.1")
    r = login(client, handle, SURVIVOR_DURESS_PIN, addr="10.9.1.2")
    assert r.status_code == 401
    assert r.data == wrong.data
    job = db_session.scalars(select(Job).where(Job.kind == DURESS_ALERT)).one()
    assert job.payload == {"survivor_id": str(survivor.id), "device_id": None}
    # Typed again within five minutes: still one alert.
    login(client, handle, SURVIVOR_DURESS_PIN, addr="10.9.1.3")
    assert len(db_session.scalars(select(Job).where(Job.kind == DURESS_ALERT)).all()) == 1
    # Refused, and no device was opened on either account; the lock is what it was.
    assert db_session.scalars(select(SurvivorDevice)).all() == []
    assert pin_retry_after(runtime, db_session, survivor.id) == 30


def test_quick_exit_from_a_decoy_session_ends_every_session(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _survivor, handle = make_survivor_account(db_session, runtime)
    real = login(client, handle, SURVIVOR_PIN).json
    decoy = login(client, handle, SURVIVOR_DURESS_PIN).json
    r = client.post("/v1/survivor/quick-exit", headers=auth_header(decoy["access_token"]))
    assert r.status_code == 204
    for tokens in (real, decoy):
        assert (
            client.get(
                "/v1/survivor/devices", headers=auth_header(tokens["access_token"])
            ).status_code
            == 401
        )
        refreshed = client.post(
            "/v1/survivor/token/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401
