"""Webhook deliveries: the durable job that signs and sends one alert to one agency.

Standard Webhooks: ``webhook-id`` is the delivery's own id, the same on every retry and on a
redelivery, so a receiver can drop duplicates; ``webhook-timestamp`` is the time of this
attempt; ``webhook-signature`` carries one ``v1,`` signature per secret in force (two while a
secret is being rotated). Before each attempt the consent (or lawful-basis share) is checked
again, and the URL is resolved and checked again (DNS rebinding); the request goes to the
address that was checked.

Retries: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later, each
with up to 10% jitter, and never sooner than the partner's ``Retry-After`` (capped at a day).
Any 2xx is success. A 410 disables the endpoint and tells the admins; after the tenth failed
attempt the delivery is dead-lettered and the admins are told. Admins can redeliver.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import uuid
from dataclasses import dataclass
from math import floor
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from auth.principals import StaffPrincipal
from auth.staff.models import StaffMember
from coordination import alerts, disclosures
from coordination.deps import CoordinationDeps
from coordination.models import AgencyWebhook, Alert, Delivery
from coordination.urls import UnsafeWebhookUrl, check_for_settings
from coordination.webhooks import secrets_for_signing
from core import audit, jobs, notices
from core.clock import Clock
from core.errors import Conflict, NotFound

log = logging.getLogger(__name__)

# Seconds to wait after attempt n (index n-1) before attempt n+1.
SCHEDULE: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
MAX_RETRY_AFTER = 86400.0
JITTER = 0.10


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery as admins see it (``DeliverySchema``): state and attempts, never the payload."""

    id: uuid.UUID
    agency_id: uuid.UUID
    webhook_id: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    finished_at: dt.datetime | None


class DeliveryFailed(jobs.RetryLater):
    """One attempt failed; the job is tried again after the scheduled delay."""


def retry_delay(attempt: int) -> float:
    """Seconds before the attempt after ``attempt`` (1-based), with up to 10% jitter."""
    base = SCHEDULE[min(max(attempt, 1), len(SCHEDULE)) - 1]
    return base * (1 + random.uniform(0, JITTER))


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), bounded to a day."""
    if not value:
        return None
    value = value.strip()
    seconds: float | None = None
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def sign(secrets: list[str], msg_id: str, timestamp: dt.datetime, body: str) -> str:
    """Space-separated ``v1,<sig>`` for every secret in force (Standard Webhooks)."""
    return " ".join(Webhook(secret).sign(msg_id, timestamp, body) for secret in secrets)


def admins(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(StaffMember.id).where(
                StaffMember.role == "admin", StaffMember.disabled_at.is_(None)
            )
        )
    )


def deliver_job(ctx: jobs.JobContext, payload: dict[str, Any], *, deps: CoordinationDeps) -> None:
    """Job handler: one attempt at one delivery."""
    deliver(
        ctx.session,
        ctx.clock,
        deps,
        uuid.UUID(payload["delivery_id"]),
        ctx.job.attempts,
    )


def deliver(
    session: Session, clock: Clock, deps: CoordinationDeps, delivery_id: uuid.UUID, attempt: int
) -> str:
    """Attempt number ``attempt`` (1-based); returns the outcome, raises DeliveryFailed to retry."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.state != "pending":
        return "skipped"
    alert = session.get(Alert, delivery.alert_id)
    now = clock.now()
    reason = alerts.blocked_reason(session, delivery, alert, now)
    if reason is not None or alert is None:
        delivery.state = "cancelled"
        delivery.cancelled_reason = reason or "alert_gone"
        delivery.finished_at = now
        return "cancelled"
    webhook = session.get(AgencyWebhook, delivery.agency_id)
    if webhook is None or webhook.disabled_at is not None:
        # Kept pending: the agency can still pull it, and an admin can redeliver later.
        delivery.last_error = "endpoint_disabled" if webhook else "no_endpoint"
        return "no_endpoint"
    delivery.attempts = attempt
    status, retry_after, error = _attempt(session, clock, deps, delivery, webhook)
    delivery.last_status = status
    delivery.last_error = error
    if status is not None and 200 <= status < 300:
        first_time = delivery.delivered_at is None and delivery.pulled_at is None
        delivery.state = "delivered"
        delivery.delivered_at = now
        delivery.finished_at = now
        if first_time:  # a redelivery or an already-pulled alert discloses nothing new
            disclosures.record_alert(session, clock, delivery, alert.kind)
        return "delivered"
    if status == 410:
        _disable_endpoint(session, clock, webhook, delivery)
        return "gone"
    if attempt >= alerts.MAX_ATTEMPTS:
        _dead_letter(session, clock, delivery)
        return "dead"
    delay = retry_delay(attempt)
    if retry_after is not None:
        delay = max(delay, retry_after)
    log.info(
        "webhook attempt failed",
        extra={
            "event": "webhook_attempt_failed",
            "delivery_id": str(delivery.id),
            "attempt": attempt,
            "status": status,
            "error": error,
        },
    )
    raise DeliveryFailed(delay, "webhook attempt failed")


def _attempt(
    session: Session,
    clock: Clock,
    deps: CoordinationDeps,
    delivery: Delivery,
    webhook: AgencyWebhook,
) -> tuple[int | None, float | None, str | None]:
    settings = deps.settings
    try:
        checked = check_for_settings(webhook.url, settings, deps.resolver)
    except UnsafeWebhookUrl:
        return None, None, "unsafe_url"
    body = json.dumps(alerts.payload_of(session, deps, delivery), separators=(",", ":"))
    now = clock.now()
    timestamp = dt.datetime.fromtimestamp(floor(now.timestamp()), dt.UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "Lantern-Webhooks/1",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(floor(now.timestamp())),
        "webhook-signature": sign(
            secrets_for_signing(deps, webhook, now), delivery.webhook_id, timestamp, body
        ),
    }
    try:
        result = deps.sender.send(
            webhook.url, checked.address, headers, body.encode(), settings.webhook_timeout_seconds
        )
    except (OSError, ValueError) as exc:
        return None, None, type(exc).__name__[:64]
    return result.status, parse_retry_after(result.headers.get("retry-after"), now), None


def _disable_endpoint(
    session: Session, clock: Clock, webhook: AgencyWebhook, delivery: Delivery
) -> None:
    now = clock.now()
    webhook.disabled_at = now
    webhook.disabled_reason = "gone"
    delivery.last_error = "endpoint_gone"
    notices.notify_staff(
        session,
        clock,
        admins(session),
        "webhook_endpoint_disabled",
        urgency="high",
        details={"agency_id": str(webhook.agency_id), "delivery_id": str(delivery.id)},
    )
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "webhook.disabled",
        subject_kind="agency",
        subject_id=webhook.agency_id,
        details={"reason": "gone"},
    )


def _dead_letter(session: Session, clock: Clock, delivery: Delivery) -> None:
    delivery.state = "dead"
    delivery.finished_at = clock.now()
    notices.notify_staff(
        session,
        clock,
        admins(session),
        "webhook_delivery_dead",
        urgency="high",
        details={"agency_id": str(delivery.agency_id), "delivery_id": str(delivery.id)},
    )
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "delivery.dead_lettered",
        subject_kind="delivery",
        subject_id=delivery.id,
        details={"agency_id": str(delivery.agency_id)},
    )


# --- admin ----------------------------------------------------------------------------------


def redeliver(
    session: Session, principal: StaffPrincipal, clock: Clock, *, delivery_id: uuid.UUID
) -> Delivery:
    """Queue a delivery again with the same webhook-id (receivers drop duplicates by it)."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound()
    if delivery.state == "cancelled":
        raise Conflict("This delivery was cancelled because its consent ended.")
    if session.get(AgencyWebhook, delivery.agency_id) is None:
        raise Conflict("This agency has no webhook endpoint.")
    delivery.state = "pending"
    delivery.finished_at = None
    delivery.job_id = alerts.enqueue_delivery(session, clock, delivery)
    audit.record(
        session,
        clock,
        principal.actor,
        "delivery.redelivered",
        subject_kind="delivery",
        subject_id=delivery.id,
        details={"agency_id": str(delivery.agency_id)},
    )
    session.flush()
    return delivery


def list_for_admin(
    session: Session, *, state: str | None, agency_id: uuid.UUID | None, limit: int
) -> list[Delivery]:
    stmt = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id)
    if state:
        stmt = stmt.where(Delivery.state == state)
    if agency_id:
        stmt = stmt.where(Delivery.agency_id == agency_id)
    return list(session.scalars(stmt.limit(max(1, min(limit, 200)))))


def view(session: Session, delivery: Delivery) -> DeliveryView:
    """A delivery as admins see it: state and attempts, never the payload."""
    attempts = delivery.attempts
    if delivery.job_id is not None:
        job = session.get(jobs.Job, delivery.job_id)
        attempts = max(attempts, job.attempts if job else 0)  # retries are counted on the job
    return DeliveryView(
        id=delivery.id,
        agency_id=delivery.agency_id,
        webhook_id=delivery.webhook_id,
        state=delivery.state,
        attempts=attempts,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        finished_at=delivery.finished_at,
    )
