"""The survivor's own device sessions: list them (labels decrypted) and end any of them.

A decoy (duress) session is a session of the decoy account (``auth.survivors.decoys``): it sees and
ends that account's devices, never the real account's, and the real account never lists the
decoy's (whoever later forces the real PIN must not find the sessions they opened before).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from auth.principals import SurvivorPrincipal
from auth.survivors.models import SurvivorDevice, SurvivorRefreshToken
from auth.survivors.sessions import label_binding
from core import audit
from core.clock import Clock
from core.errors import NotFound
from core.vault import Vault


@dataclass(frozen=True, slots=True)
class DeviceView:
    id: uuid.UUID
    label: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool


def _live_devices(
    session: Session, survivor_id: uuid.UUID, now: dt.datetime
) -> list[SurvivorDevice]:
    live_refresh = exists().where(
        SurvivorRefreshToken.device_id == SurvivorDevice.id,
        SurvivorRefreshToken.used_at.is_(None),
        SurvivorRefreshToken.expires_at > now,
    )
    return list(
        session.scalars(
            select(SurvivorDevice)
            .where(
                SurvivorDevice.survivor_id == survivor_id,
                SurvivorDevice.revoked_at.is_(None),
                (SurvivorDevice.access_expires_at > now) | live_refresh,
            )
            .order_by(SurvivorDevice.created_at, SurvivorDevice.id)
        )
    )


def list_devices(
    session: Session, principal: SurvivorPrincipal, clock: Clock, vault: Vault
) -> list[DeviceView]:
    """The survivor's active device sessions. A decoy session sees only itself."""
    now = clock.now()
    devices = _live_devices(session, principal.survivor_id, now)
    views = []
    for d in devices:
        label = (
            vault.open_text(session, label_binding(d.id, d.survivor_id), d.label_enc)
            if d.label_enc
            else None
        )
        views.append(
            DeviceView(d.id, label, d.created_at, d.last_seen_at, d.id == principal.device_id)
        )
    return views


def end_device(
    session: Session, principal: SurvivorPrincipal, clock: Clock, *, device_id: uuid.UUID
) -> None:
    """End one of the survivor's own device sessions (404 for anyone else's)."""
    device = session.get(SurvivorDevice, device_id)
    if (
        device is None
        or device.survivor_id != principal.survivor_id
        or device.revoked_at is not None
    ):
        raise NotFound()
    device.revoked_at = clock.now()
    device.revoked_reason = "ended_by_survivor"
    audit.record(
        session,
        clock,
        principal.actor,
        "survivor.device_ended",
        subject_kind="survivor_device",
        subject_id=device.id,
        survivor_id=principal.survivor_id,
    )
    session.flush()
