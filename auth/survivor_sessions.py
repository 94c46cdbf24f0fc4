"""Survivor device sessions: login (PIN or duress PIN), refresh, quick exit.

A device session (``SurvivorDevice``) holds one short-lived access token (``sa_``) and a
family of rotating refresh tokens (``sr_``). Presenting a refresh token that was already used
means two parties hold the family: the whole device session is ended and the event audited.

Login failures (unknown handle, wrong PIN, locked account, throttled address) all answer with
one byte-identical body, after the same work: two argon2 verifies (PIN and duress PIN, against
a dummy hash when missing). The person at the phone learns nothing from failing: not whether
the account exists, not whether it is locked, not that the advocate was told.

A duress-PIN login answers exactly like a PIN login; the device is marked ``decoy`` and, in
the same transaction, a durable duress alert job is queued (``auth.duress``). Decoy facts are
kept out of everything a survivor session can read: the login itself is audited as an ordinary
``survivor.login``; the duress fact is audited against the device only, with no survivor id
and a system actor (see ``auth.duress``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth import duress
from auth.authn import SURVIVOR_ACCESS_PREFIX, SURVIVOR_REFRESH_PREFIX, new_token
from auth.models import Survivor, SurvivorDevice, SurvivorRefreshToken
from auth.permissions import advocates_of
from auth.principals import SurvivorPrincipal
from auth.survivor_pins import hash_pin, verify_pin
from auth.throttle import Throttle
from core import audit
from core.crypto import Binding, token_digest
from core.errors import LanternError, NotAuthenticated
from core.ids import new_id
from core.notices import notify_staff
from core.runtime import Runtime

# The account locks after this many wrong PINs in a row, for LOCK_BASE seconds, doubling with
# every further failure up to LOCK_CAP; the advocates hear of it at every NOTIFY_EVERY-th one.
FREE_FAILURES = 4
LOCK_BASE_SECONDS = 30
LOCK_CAP_SECONDS = 3600
NOTIFY_EVERY = 5

LABEL_BINDING = ("survivor_devices", "label_enc")


class SurvivorLoginFailed(LanternError):
    """Every failed survivor login, whatever the reason: one status, one body."""

    status = 401
    type_slug = "login-failed"
    title = "Login failed"
    keep_changes = True  # failure counters, lock and audit event must persist
    uniform_body = True

    def __init__(self) -> None:
        super().__init__("The account or PIN was not accepted.")


class RefreshRejected(NotAuthenticated):
    """A refresh token that is unknown, expired, used, or of an ended device session."""

    keep_changes = True  # a reused token's revocation and audit event must persist


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    access_expires_at: dt.datetime
    device_id: uuid.UUID


def _throttle(runtime: Runtime) -> Throttle:
    throttle: Throttle = runtime.extensions["throttle"]
    return throttle


def label_binding(device_id: uuid.UUID, survivor_id: uuid.UUID) -> Binding:
    return Binding(LABEL_BINDING[0], LABEL_BINDING[1], device_id, survivor_id)


def _new_refresh(session: Session, runtime: Runtime, device_id: uuid.UUID, now: dt.datetime) -> str:
    token, digest = new_token(SURVIVOR_REFRESH_PREFIX)
    session.add(
        SurvivorRefreshToken(
            id=new_id(),
            device_id=device_id,
            token_digest=digest,
            created_at=now,
            expires_at=now + dt.timedelta(days=runtime.settings.survivor_refresh_days),
        )
    )
    return token


def open_device(
    session: Session,
    runtime: Runtime,
    survivor_id: uuid.UUID,
    label: str | None,
    *,
    decoy: bool = False,
) -> IssuedTokens:
    """Start a device session with its first access and refresh tokens."""
    now = runtime.clock.now()
    device_id = new_id()
    access, access_digest = new_token(SURVIVOR_ACCESS_PREFIX)
    expires = now + dt.timedelta(minutes=runtime.settings.survivor_access_minutes)
    label_enc = (
        runtime.vault.seal(session, label_binding(device_id, survivor_id), label) if label else None
    )
    session.add(
        SurvivorDevice(
            id=device_id,
            survivor_id=survivor_id,
            label_enc=label_enc,
            decoy=decoy,
            access_digest=access_digest,
            access_expires_at=expires,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    refresh = _new_refresh(session, runtime, device_id, now)
    session.flush()
    return IssuedTokens(access, refresh, expires, device_id)


def _lock_seconds(failures: int) -> int:
    if failures <= FREE_FAILURES:
        return 0
    return int(min(LOCK_CAP_SECONDS, LOCK_BASE_SECONDS * 2 ** (failures - FREE_FAILURES - 1)))


def login(
    session: Session,
    runtime: Runtime,
    account_handle: str,
    pin: str,
    device_label: str | None,
    client: str,
) -> IssuedTokens:
    """Log a device in with the PIN (real session) or the duress PIN (decoy session)."""
    clock, throttle = runtime.clock, _throttle(runtime)
    now = clock.now()
    handle_digest = token_digest(account_handle)
    survivor = session.scalars(
        select(Survivor).where(Survivor.handle_digest == handle_digest)
    ).one_or_none()
    if survivor is not None and survivor.erased_at is not None:
        survivor = None
    client_key = f"survivor-login-client:{client}"
    refused = throttle.retry_after(client_key) > 0 or (
        survivor is not None and survivor.locked_until is not None and survivor.locked_until > now
    )
    # Both verifies always run, in the same order, so time does not tell which PIN exists,
    # whether the account exists, or whether it is locked.
    pin_ok = verify_pin(runtime, survivor.pin_hash if survivor else None, pin)
    duress_ok = verify_pin(runtime, survivor.duress_pin_hash if survivor else None, pin)

    if survivor is None or refused or not (pin_ok or duress_ok):
        if not refused:
            throttle.record_failure(client_key)
        _record_failure(session, runtime, survivor, counted=not refused)
        if survivor is not None and refused and duress_ok:
            # The duress PIN typed while locked is still a cry for help; the person at the
            # phone sees the same refusal as ever.
            duress.enqueue_refused_duress_alert(session, clock, survivor.id)
        raise SurvivorLoginFailed()

    survivor.pin_failures = 0
    survivor.locked_until = None
    decoy = duress_ok and not pin_ok
    if pin_ok and runtime.hasher.needs_rehash(survivor.pin_hash):
        survivor.pin_hash = hash_pin(runtime, pin)
    issued = open_device(session, runtime, survivor.id, device_label, decoy=decoy)
    # Identical for both kinds of login: the survivor's access log shows a login either way.
    audit.record(
        session,
        clock,
        audit.Actor("survivor", survivor.id),
        "survivor.login",
        subject_kind="survivor_device",
        subject_id=issued.device_id,
        survivor_id=survivor.id,
    )
    if decoy:
        duress.raise_duress_alert(session, clock, survivor.id, issued.device_id)
    return issued


def _record_failure(
    session: Session, runtime: Runtime, survivor: Survivor | None, *, counted: bool
) -> None:
    clock = runtime.clock
    now = clock.now()
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "survivor.login_failed",
        subject_kind="survivor" if survivor else None,
        subject_id=survivor.id if survivor else None,
        survivor_id=survivor.id if survivor else None,
    )
    if survivor is None or not counted:
        return
    # One atomic increment: parallel guesses cannot lose counts (and so cannot dodge the lock).
    failures = session.execute(
        update(Survivor)
        .where(Survivor.id == survivor.id)
        .values(pin_failures=Survivor.pin_failures + 1)
        .returning(Survivor.pin_failures)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    lock = _lock_seconds(failures)
    survivor.pin_failures = failures
    if lock:
        survivor.locked_until = now + dt.timedelta(seconds=lock)
    session.flush()
    if failures % NOTIFY_EVERY == 0:
        notify_staff(
            session,
            clock,
            advocates_of(session, survivor.id),
            "pin_guessing",
            urgency="high",
            survivor_id=survivor.id,
            details={"failures": failures},
        )


def refresh(session: Session, runtime: Runtime, refresh_token: str) -> IssuedTokens:
    """Rotate: a new access token and a new refresh token; the old refresh token is spent."""
    now = runtime.clock.now()
    if not refresh_token.startswith(SURVIVOR_REFRESH_PREFIX):
        raise RefreshRejected()
    row = session.scalars(
        select(SurvivorRefreshToken).where(
            SurvivorRefreshToken.token_digest == token_digest(refresh_token)
        )
    ).one_or_none()
    if row is None:
        raise RefreshRejected()
    device = session.get(SurvivorDevice, row.device_id)
    survivor = session.get(Survivor, device.survivor_id) if device else None
    if device is None or survivor is None or survivor.erased_at is not None:
        raise RefreshRejected()
    if device.revoked_at is not None or row.expires_at <= now:
        raise RefreshRejected()
    # Spend the token with a conditional update, so two racing refreshes cannot both win: the
    # loser is treated as a reuse, which is what it is.
    spent = session.execute(
        update(SurvivorRefreshToken)
        .where(SurvivorRefreshToken.id == row.id, SurvivorRefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if spent != 1:
        _revoke_family(session, runtime, device, "refresh_reuse")
        raise RefreshRejected()
    access, access_digest = new_token(SURVIVOR_ACCESS_PREFIX)
    device.access_digest = access_digest
    device.access_expires_at = now + dt.timedelta(minutes=runtime.settings.survivor_access_minutes)
    device.last_seen_at = now
    new_refresh = _new_refresh(session, runtime, device.id, now)
    session.flush()
    return IssuedTokens(access, new_refresh, device.access_expires_at, device.id)


def _revoke_family(session: Session, runtime: Runtime, device: SurvivorDevice, reason: str) -> None:
    now = runtime.clock.now()
    device.revoked_at = now
    device.revoked_reason = reason
    session.execute(
        update(SurvivorRefreshToken)
        .where(SurvivorRefreshToken.device_id == device.id, SurvivorRefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        runtime.clock,
        audit.Actor.system(),
        "survivor.refresh_reuse",
        subject_kind="survivor_device",
        subject_id=device.id,
        survivor_id=device.survivor_id,
    )
    session.flush()


def quick_exit(session: Session, runtime: Runtime, principal: SurvivorPrincipal) -> None:
    """End every device session of the survivor at once (decoy sessions included).

    One UPDATE of the device rows: a refresh token is refused once its device is ended, so the
    refresh tokens die with it and need no second statement on the hot path.
    """
    now = runtime.clock.now()
    session.execute(
        update(SurvivorDevice)
        .where(
            SurvivorDevice.survivor_id == principal.survivor_id,
            SurvivorDevice.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="quick_exit")
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        runtime.clock,
        principal.actor,
        "survivor.quick_exit",
        subject_kind="survivor",
        subject_id=principal.survivor_id,
        survivor_id=principal.survivor_id,
    )
