"""Turning a bearer credential into a principal.

Credentials are opaque random tokens with a short type prefix, so that one lookup by digest
finds them: ``st_`` staff session, ``sa_`` survivor access token, ``pk_<key id>.<secret>``
partner API key. Refresh tokens (``sr_``) are accepted only by the refresh endpoint.

The web console's staff sessions (``sc_``) are the same rows on another channel: they are found
only from the console's cookie (:func:`console_staff`), and a bearer ``st_`` token only from the
Authorization header, so neither carrier opens the other's door.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.partners.models import PartnerAgency, PartnerApiKey
from auth.principals import (
    PartnerPrincipal,
    PendingStaffPrincipal,
    Principal,
    StaffPrincipal,
    SurvivorPrincipal,
)
from auth.staff.models import StaffMember, StaffSession
from auth.survivors.models import Survivor, SurvivorDevice
from core.clock import Clock
from core.crypto import constant_time_equals, random_token, token_digest
from core.errors import NotAuthenticated
from core.settings import Settings

STAFF_PREFIX = "st_"
CONSOLE_PREFIX = "sc_"
API_CHANNEL = "api"
CONSOLE_CHANNEL = "console"
_CHANNEL_PREFIX = {API_CHANNEL: STAFF_PREFIX, CONSOLE_CHANNEL: CONSOLE_PREFIX}
SURVIVOR_ACCESS_PREFIX = "sa_"
SURVIVOR_REFRESH_PREFIX = "sr_"
PARTNER_PREFIX = "pk_"

# last_seen_at is written at most this often, so that reads do not all become writes.
_TOUCH_EVERY = dt.timedelta(seconds=60)


def new_token(prefix: str) -> tuple[str, str]:
    """A fresh token and the digest to store for it."""
    token = prefix + random_token(32)
    return token, token_digest(token)


def new_staff_token(channel: str) -> tuple[str, str]:
    """A fresh staff session token for ``channel`` (``api`` or ``console``) and its digest."""
    return new_token(_CHANNEL_PREFIX[channel])


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def staff_session_live(row: StaffSession, settings: Settings, now: dt.datetime) -> bool:
    idle = dt.timedelta(minutes=settings.staff_idle_minutes)
    return row.revoked_at is None and row.expires_at > now and row.last_seen_at + idle > now


def authenticate(session: Session, clock: Clock, settings: Settings, token: str) -> Principal:
    """The principal for ``token``; NotAuthenticated (always the same answer) otherwise."""
    now = clock.now()
    if token.startswith(STAFF_PREFIX):
        return _staff(session, settings, token, now, API_CHANNEL)
    if token.startswith(SURVIVOR_ACCESS_PREFIX):
        return _survivor(session, token, now)
    if token.startswith(PARTNER_PREFIX):
        return _partner(session, token, now)
    raise NotAuthenticated()


def console_staff(
    session: Session, clock: Clock, settings: Settings, token: str, *, touch: bool = True
) -> Principal:
    """The principal of a console cookie's session token; NotAuthenticated otherwise.

    ``touch=False`` for the console's own background refreshes: a page left open polling its
    queue must still lock when nobody is at the desk.
    """
    if not token.startswith(CONSOLE_PREFIX):
        raise NotAuthenticated()
    return _staff(session, settings, token, clock.now(), CONSOLE_CHANNEL, touch=touch)


def _staff(
    session: Session,
    settings: Settings,
    token: str,
    now: dt.datetime,
    channel: str,
    *,
    touch: bool = True,
) -> Principal:
    row = session.scalars(
        select(StaffSession).where(StaffSession.token_digest == token_digest(token))
    ).one_or_none()
    if row is None or row.channel != channel or not staff_session_live(row, settings, now):
        raise NotAuthenticated()
    member = session.get(StaffMember, row.staff_id)
    if member is None or member.disabled_at is not None:
        raise NotAuthenticated()
    if touch and now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    if row.stage == "enroll":
        return PendingStaffPrincipal(staff_id=member.id, session_id=row.id)
    if row.stage != "full":
        # A password-only login ticket is good for the second step and nothing else.
        raise NotAuthenticated()
    return StaffPrincipal(
        staff_id=member.id,
        role=member.role,
        session_id=row.id,
        second_factor_at=row.second_factor_at,
    )


def _survivor(session: Session, token: str, now: dt.datetime) -> Principal:
    device = session.scalars(
        select(SurvivorDevice).where(SurvivorDevice.access_digest == token_digest(token))
    ).one_or_none()
    if device is None or device.revoked_at is not None or device.access_expires_at <= now:
        raise NotAuthenticated()
    survivor = session.get(Survivor, device.survivor_id)
    if survivor is None or survivor.erased_at is not None:
        raise NotAuthenticated()
    if now - device.last_seen_at > _TOUCH_EVERY:
        device.last_seen_at = now
    return SurvivorPrincipal(survivor_id=survivor.id, device_id=device.id, decoy=device.decoy)


def split_partner_key(token: str) -> tuple[str, str] | None:
    body = token.removeprefix(PARTNER_PREFIX)
    key_id, sep, secret = body.partition(".")
    if not sep or not key_id or not secret:
        return None
    return key_id, secret


def _partner(session: Session, token: str, now: dt.datetime) -> Principal:
    parts = split_partner_key(token)
    if parts is None:
        raise NotAuthenticated()
    key_id, secret = parts
    key = session.scalars(select(PartnerApiKey).where(PartnerApiKey.key_id == key_id)).one_or_none()
    if key is None or not constant_time_equals(key.secret_digest, token_digest(secret)):
        raise NotAuthenticated()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise NotAuthenticated()
    agency = session.get(PartnerAgency, key.agency_id)
    if agency is None or agency.disabled_at is not None:
        raise NotAuthenticated()
    if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
        key.last_used_at = now
    return PartnerPrincipal(agency_id=agency.id, key_id=key.key_id, scopes=frozenset(key.scopes))
