"""Survivor device sessions: login (PIN or duress PIN), refresh, quick exit.

A device session (``SurvivorDevice``) holds one short-lived access token (``sa_``) and a
family of rotating refresh tokens (``sr_``). Presenting a refresh token that was already used
means two parties hold the family: the whole device session is ended and the event audited.

Login failures (unknown handle, wrong PIN, locked account, throttled address) all answer with
one byte-identical body, after the same work: ``1 + MAX_DEPTH`` argon2 verifies (the PIN and
the decoys' PINs, against a dummy hash when missing). The person at the phone learns nothing
from failing: not whether the account exists, not whether it is locked, not that the advocate
was told. Every guess takes its attempt slot before any PIN is checked (``auth.attempts``).

A duress-PIN login answers exactly like a PIN login and opens the account's decoy account
(``auth.survivors.decoys``); in the same transaction a durable duress alert about the real owner is
queued (``auth.survivors.duress``). The duress fact is audited against the device only, with no
survivor id and a system actor, so no survivor session can read it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from auth import attempts
from auth.authn import SURVIVOR_ACCESS_PREFIX, SURVIVOR_REFRESH_PREFIX, new_token
from auth.deps import AuthDeps
from auth.principals import SurvivorPrincipal
from auth.survivors import decoys, duress
from auth.survivors.models import Survivor, SurvivorDevice, SurvivorRefreshToken
from auth.survivors.pins import hash_pin, note_wrong_pin, pin_subjects, verify_pin
from core import audit
from core.clock import Clock
from core.crypto import Binding, SecretHasher, token_digest
from core.errors import LanternError, NotAuthenticated
from core.ids import new_id
from core.settings import Settings

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


def label_binding(device_id: uuid.UUID, survivor_id: uuid.UUID) -> Binding:
    return Binding(LABEL_BINDING[0], LABEL_BINDING[1], device_id, survivor_id)


def _new_refresh(
    session: Session, settings: Settings, device_id: uuid.UUID, now: dt.datetime
) -> str:
    token, digest = new_token(SURVIVOR_REFRESH_PREFIX)
    session.add(
        SurvivorRefreshToken(
            id=new_id(),
            device_id=device_id,
            token_digest=digest,
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.survivor_refresh_days),
        )
    )
    return token


def open_device(
    session: Session,
    clock: Clock,
    deps: AuthDeps,
    survivor_id: uuid.UUID,
    label: str | None,
    *,
    decoy: bool = False,
) -> IssuedTokens:
    """Start a device session with its first access and refresh tokens."""
    now = clock.now()
    device_id = new_id()
    access, access_digest = new_token(SURVIVOR_ACCESS_PREFIX)
    expires = now + dt.timedelta(minutes=deps.settings.survivor_access_minutes)
    label_enc = (
        deps.vault.seal(session, label_binding(device_id, survivor_id), label) if label else None
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
    refresh = _new_refresh(session, deps.settings, device_id, now)
    session.flush()
    return IssuedTokens(access, refresh, expires, device_id)


def login(
    session: Session,
    clock: Clock,
    deps: AuthDeps,
    *,
    account_handle: str,
    pin: str,
    device_label: str | None,
    client: str,
) -> IssuedTokens:
    """Log a device in with the PIN (real session) or a duress PIN (its decoy account)."""
    owner = session.scalars(
        select(Survivor).where(Survivor.handle_digest == token_digest(account_handle))
    ).one_or_none()
    if owner is not None and owner.erased_at is not None:
        owner = None
    accounts = decoys.family(session, owner) if owner is not None else []
    # The account is guessed at under one key whether or not it exists, so the lock itself
    # tells nothing. The caller's network is counted first and refused openly (429, before any
    # PIN is hashed): a machine hammering the endpoint learns only its own state and costs no
    # argon2; a survivor's own account is protected by its own allowance.
    account_subject = f"survivor:{owner.id}" if owner else f"survivor-handle:{account_handle}"
    taken = attempts.take(
        session,
        clock,
        deps.attempts,
        [
            (attempts.APP_ADDRESS, "survivor-login:" + attempts.network_of(client)),
            *pin_subjects(account_subject),
        ],
    )
    matched = _match(deps.hasher, accounts, pin, real_allowed=taken is not None)

    if taken is None or matched is None:
        failed_attempt = taken.number(attempts.SURVIVOR_PIN_BACKSTOP) if taken else None
        _record_failure(session, clock, owner, failed_attempt, accounts)
        if owner is not None and matched is not None:
            # A duress PIN typed while locked is still a cry for help; the person at the
            # phone sees the same refusal as ever.
            duress.enqueue_refused_duress_alert(session, clock, owner.id)
        raise SurvivorLoginFailed()

    assert owner is not None  # a PIN matched an account of the family
    is_decoy = matched.id != owner.id
    # A duress PIN clears the lock a person at the phone can see, as the real PIN would, but
    # not the backstop count of guesses at the real PIN (``attempts.SURVIVOR_PIN_BACKSTOP``).
    attempts.succeeded(session, deps.attempts, taken, proves_owner=not is_decoy)
    if matched.pin_hash is not None and deps.hasher.needs_rehash(matched.pin_hash):
        matched.pin_hash = hash_pin(deps.hasher, pin)
    issued = open_device(session, clock, deps, matched.id, device_label, decoy=is_decoy)
    # The owner's access log shows a login either way (the decoy's own log shows its own).
    for account_id in {owner.id, matched.id}:
        audit.record(
            session,
            clock,
            audit.Actor("survivor", account_id),
            "survivor.login",
            subject_kind="survivor_device",
            subject_id=issued.device_id,
            survivor_id=account_id,
        )
    if is_decoy:
        duress.raise_duress_alert(session, clock, owner.id, issued.device_id)
    return issued


def _match(
    hasher: SecretHasher, accounts: list[Survivor], pin: str, *, real_allowed: bool
) -> Survivor | None:
    """The account ``pin`` opens, after exactly ``1 + MAX_DEPTH`` argon2 verifies.

    The same work in the same order for every login (a missing account or decoy is checked
    against a dummy hash), so time does not tell whether the account exists, has a duress PIN,
    or is locked. While locked, the real PIN is not checked at all; the decoys' PINs still are,
    because a duress PIN typed at a locked account must still raise the alarm (and the answer is
    the same refusal whatever they match).

    The deepest match wins. Whoever holds a decoy can set its PIN to anything; if the real PIN
    won a tie, setting the decoy's PIN to a guess and logging in with it would test the guess
    without ever counting a failure. So a PIN that opens a decoy always opens the decoy, even
    when it is also the real PIN (the owner's advocates are told when that happens).
    """
    hashes: list[str | None] = [a.pin_hash for a in accounts]
    hashes += [None] * (1 + decoys.MAX_DEPTH - len(hashes))
    matched: Survivor | None = None
    for level, stored in enumerate(hashes):
        ok = verify_pin(hasher, stored if (level or real_allowed) else None, pin)
        if ok and level < len(accounts):
            matched = accounts[level]
    return matched


def _record_failure(
    session: Session,
    clock: Clock,
    owner: Survivor | None,
    attempt: int | None,
    accounts: list[Survivor],
) -> None:
    # Against every account of the family: a real account's access log lists failed logins,
    # so the decoy's must list the ones typed at its phone too.
    family: list[Survivor | None] = list(accounts) or [None]
    for account in family:
        audit.record(
            session,
            clock,
            audit.Actor.system(),
            "survivor.login_failed",
            subject_kind="survivor" if account else None,
            subject_id=account.id if account else None,
            survivor_id=account.id if account else None,
        )
    if owner is not None and attempt is not None:
        note_wrong_pin(session, clock, owner.id, attempt)


def refresh(
    session: Session, clock: Clock, settings: Settings, *, refresh_token: str
) -> IssuedTokens:
    """Rotate: a new access token and a new refresh token; the old refresh token is spent."""
    now = clock.now()
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
        _revoke_family(session, clock, device, "refresh_reuse")
        raise RefreshRejected()
    access, access_digest = new_token(SURVIVOR_ACCESS_PREFIX)
    device.access_digest = access_digest
    device.access_expires_at = now + dt.timedelta(minutes=settings.survivor_access_minutes)
    device.last_seen_at = now
    new_refresh = _new_refresh(session, settings, device.id, now)
    session.flush()
    return IssuedTokens(access, new_refresh, device.access_expires_at, device.id)


def _revoke_family(session: Session, clock: Clock, device: SurvivorDevice, reason: str) -> None:
    now = clock.now()
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
        clock,
        audit.Actor.system(),
        "survivor.refresh_reuse",
        subject_kind="survivor_device",
        subject_id=device.id,
        survivor_id=device.survivor_id,
    )
    session.flush()


def quick_exit(session: Session, principal: SurvivorPrincipal, clock: Clock) -> None:
    """End every device session of the survivor at once: her own and her decoys'.

    Pressed in a decoy session it ends the real sessions too: quick exit is a safety action
    whoever presses it. One UPDATE of the device rows: a refresh token is refused once its
    device is ended, so the refresh tokens die with it.
    """
    now = clock.now()
    account = session.get(Survivor, principal.survivor_id)
    accounts = decoys.family(session, decoys.owner_of(session, account)) if account else []
    session.execute(
        update(SurvivorDevice)
        .where(
            SurvivorDevice.survivor_id.in_([a.id for a in accounts] or [principal.survivor_id]),
            SurvivorDevice.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="quick_exit")
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        clock,
        principal.actor,
        "survivor.quick_exit",
        subject_kind="survivor",
        subject_id=principal.survivor_id,
        survivor_id=principal.survivor_id,
    )
