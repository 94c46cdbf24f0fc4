"""Alerts pulled: an agency without a webhook endpoint reads its own alerts after a cursor, and
acknowledges each one it acted on.

An agency reads only its own deliveries, and only while the consent or share each relied on
still holds (``alerts.blocked_reason``); the first read of a delivery the webhook never carried
is what discloses it, and writes its line in the survivor's disclosure log.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.principals import PartnerPrincipal
from coordination import disclosures
from coordination.alerts import blocked_reason, payload_of
from coordination.deps import CoordinationDeps
from coordination.models import Alert, Delivery
from core import audit
from core.clock import Clock
from core.errors import NotFound
from core.pages import Page, Position, past

MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class PulledAlert:
    """One alert as its agency reads it (``PartnerAlertSchema``): the delivery's id is the
    alert id that agency sees."""

    alert_id: uuid.UUID
    webhook_id: str
    type: str
    # The partner payload (``alerts.AlertPayload``): its keys vary by the alert's kind.
    data: dict[str, Any]
    acknowledged_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Acknowledged:
    alert_id: uuid.UUID
    acknowledged_at: dt.datetime


def pull(
    session: Session,
    principal: PartnerPrincipal,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    after: Position | None,
    limit: int,
) -> Page[PulledAlert]:
    """This agency's alerts after ``after`` (oldest first), only while their basis holds. The
    next cursor is where the agency resumes: past the last alert read, else where it was."""
    limit = max(1, min(limit, MAX_PAGE))
    now = clock.now()
    stmt = (
        select(Delivery, Alert)
        .join(Alert, Alert.id == Delivery.alert_id)
        .where(Delivery.agency_id == principal.agency_id, Delivery.state != "cancelled")
    )
    if after is not None:
        stmt = stmt.where(past(after, Delivery.created_at, Delivery.id, newest_first=False))
    rows = session.execute(stmt.order_by(Delivery.created_at, Delivery.id).limit(limit)).all()
    items = []
    last: Delivery | None = None
    for delivery, alert in rows:
        kind = alert.kind
        last = delivery
        if blocked_reason(session, delivery, alert, now) is not None:
            continue  # revoked, expired, erased or disabled since: the agency hears nothing
        payload = payload_of(session, deps, delivery)
        if delivery.pulled_at is None:
            delivery.pulled_at = now
            if delivery.delivered_at is None:
                disclosures.record_alert(session, clock, delivery, kind)
        items.append(
            PulledAlert(
                alert_id=delivery.id,
                webhook_id=delivery.webhook_id,
                type=payload["type"],
                data=payload["data"],
                acknowledged_at=delivery.acked_at,
            )
        )
    session.flush()
    return Page(items, Position(last.created_at, last.id) if last else after)


def acknowledge(
    session: Session, principal: PartnerPrincipal, clock: Clock, *, alert_id: uuid.UUID
) -> Acknowledged:
    """The agency says it received and acted on one of its alerts."""
    delivery = session.get(Delivery, alert_id)
    if (
        delivery is None
        or delivery.agency_id != principal.agency_id
        or delivery.state == "cancelled"
    ):
        raise NotFound()
    if delivery.acked_at is None:
        delivery.acked_at = clock.now()
        audit.record(
            session,
            clock,
            principal.actor,
            "alert.acknowledged",
            subject_kind="delivery",
            subject_id=delivery.id,
            survivor_id=delivery.survivor_id,
        )
        session.flush()
    return Acknowledged(delivery.id, delivery.acked_at)
