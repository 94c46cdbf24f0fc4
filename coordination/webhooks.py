"""An agency's webhook endpoint and signing secrets (admins only).

Secrets are ``whsec_`` + base64 of 32 random bytes (Standard Webhooks), shown once to the admin
who created them and stored encrypted (AES-GCM under the ``webhook-secret`` purpose key, bound
to the agency). Rotation keeps the previous secret signing for ``ROTATION_GRACE`` so the
agency can switch without losing a message: deliveries carry both signatures meanwhile.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import uuid
from typing import NotRequired, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.partners.models import PartnerAgency
from auth.principals import StaffPrincipal
from coordination.alerts import enqueue_delivery
from coordination.deps import CoordinationDeps
from coordination.models import AgencyWebhook, Delivery
from coordination.urls import Endpoint, check_for_settings
from core import audit
from core.clock import Clock
from core.crypto import Binding, open_with_key, seal_with_key
from core.errors import NotFound
from core.jobs import Job

ROTATION_GRACE = dt.timedelta(hours=24)
PURPOSE = "webhook-secret"


class WebhookView(TypedDict):
    """An agency's endpoint as admins see it (``WebhookSchema`` dumps it as it is). An agency
    without one is answered with the first four keys only, and ``secret`` is present (once
    set, shown once) only when the endpoint exists."""

    agency_id: uuid.UUID
    configured: bool
    url: str | None
    enabled: bool
    disabled_at: NotRequired[dt.datetime | None]
    disabled_reason: NotRequired[str | None]
    rotating_until: NotRequired[dt.datetime | None]
    updated_at: NotRequired[dt.datetime | None]
    secret: NotRequired[str | None]


def secret_binding(agency_id: uuid.UUID) -> Binding:
    """Where an agency's webhook secret belongs. Both slots (current and previous) share it,
    so that a rotation can move a ciphertext from one to the other."""
    return Binding("coordination_webhooks", "secret", agency_id)


def _encrypt(deps: CoordinationDeps, agency_id: uuid.UUID, secret: str) -> bytes:
    return seal_with_key(
        deps.keyring.purpose_key(PURPOSE), secret_binding(agency_id), secret.encode()
    )


def _decrypt(deps: CoordinationDeps, agency_id: uuid.UUID, ciphertext: bytes) -> str:
    return open_with_key(
        deps.keyring.purpose_key(PURPOSE), secret_binding(agency_id), ciphertext
    ).decode()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def secrets_for_signing(
    deps: CoordinationDeps, webhook: AgencyWebhook, now: dt.datetime
) -> list[str]:
    """The current secret, and the previous one while its rotation grace lasts."""
    secrets = [_decrypt(deps, webhook.agency_id, webhook.secret_enc)]
    if (
        webhook.previous_secret_enc is not None
        and webhook.previous_valid_until is not None
        and webhook.previous_valid_until > now
    ):
        secrets.append(_decrypt(deps, webhook.agency_id, webhook.previous_secret_enc))
    return secrets


def _agency(session: Session, agency_id: uuid.UUID) -> PartnerAgency:
    agency = session.get(PartnerAgency, agency_id)
    if agency is None:
        raise NotFound()
    return agency


def view(
    webhook: AgencyWebhook | None, agency_id: uuid.UUID, now: dt.datetime, secret: str | None = None
) -> WebhookView:
    if webhook is None:
        return {"agency_id": agency_id, "configured": False, "url": None, "enabled": False}
    return {
        "agency_id": agency_id,
        "configured": True,
        "url": webhook.url,
        "enabled": webhook.disabled_at is None,
        "disabled_at": webhook.disabled_at,
        "disabled_reason": webhook.disabled_reason,
        "rotating_until": (
            webhook.previous_valid_until
            if webhook.previous_valid_until and webhook.previous_valid_until > now
            else None
        ),
        "updated_at": webhook.updated_at,
        "secret": secret,
    }


def get(session: Session, clock: Clock, *, agency_id: uuid.UUID) -> WebhookView:
    _agency(session, agency_id)
    return view(session.get(AgencyWebhook, agency_id), agency_id, clock.now())


def set_url(
    session: Session,
    principal: StaffPrincipal,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    agency_id: uuid.UUID,
    url: str,
    served_at: tuple[Endpoint, ...] = (),
) -> WebhookView:
    """Set (or change) the endpoint; it is checked now and again at every delivery. Saving
    re-enables an endpoint that was disabled. The first save creates a secret, shown once.

    ``served_at``: the address and port this request reached the app on, when known (never a
    target, like the public URL's)."""
    _agency(session, agency_id)
    check_for_settings(url, deps.settings, deps.resolver, served_at=served_at)
    now = clock.now()
    webhook = session.get(AgencyWebhook, agency_id)
    secret = None
    if webhook is None:
        secret = new_secret()
        webhook = AgencyWebhook(
            agency_id=agency_id,
            url=url,
            secret_enc=_encrypt(deps, agency_id, secret),
            created_at=now,
            updated_at=now,
        )
        session.add(webhook)
    else:
        webhook.url = url
        webhook.disabled_at = None
        webhook.disabled_reason = None
        webhook.updated_at = now
    session.flush()
    requeued = _requeue_waiting(session, clock, agency_id)
    audit.record(
        session,
        clock,
        principal.actor,
        "webhook.set",
        subject_kind="agency",
        subject_id=agency_id,
        details={"requeued": requeued},
    )
    return view(webhook, agency_id, now, secret)


def _requeue_waiting(session: Session, clock: Clock, agency_id: uuid.UUID) -> int:
    """Queue again what waited while the endpoint was missing or disabled and was not pulled;
    each delivery re-checks its consent before it is sent."""
    waiting = session.scalars(
        select(Delivery).where(
            Delivery.agency_id == agency_id,
            Delivery.state == "pending",
            Delivery.pulled_at.is_(None),
        )
    ).all()
    count = 0
    for delivery in waiting:
        job = session.get(Job, delivery.job_id) if delivery.job_id else None
        if job is not None and job.state in ("pending", "running"):
            continue  # already on its way
        delivery.job_id = enqueue_delivery(session, clock, delivery)
        count += 1
    return count


def rotate_secret(
    session: Session,
    principal: StaffPrincipal,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    agency_id: uuid.UUID,
) -> WebhookView:
    """A new secret (shown once); the old one keeps signing for ``ROTATION_GRACE``."""
    _agency(session, agency_id)
    webhook = session.get(AgencyWebhook, agency_id)
    if webhook is None:
        raise NotFound("This agency has no webhook endpoint.")
    now = clock.now()
    secret = new_secret()
    webhook.previous_secret_enc = webhook.secret_enc
    webhook.previous_valid_until = now + ROTATION_GRACE
    webhook.secret_enc = _encrypt(deps, agency_id, secret)
    webhook.updated_at = now
    session.flush()
    audit.record(
        session,
        clock,
        principal.actor,
        "webhook.secret_rotated",
        subject_kind="agency",
        subject_id=agency_id,
    )
    return view(webhook, agency_id, now, secret)


def remove(
    session: Session, principal: StaffPrincipal, clock: Clock, *, agency_id: uuid.UUID
) -> None:
    """Remove the endpoint: alerts stay available through the pull API."""
    _agency(session, agency_id)
    webhook = session.get(AgencyWebhook, agency_id)
    if webhook is not None:
        session.delete(webhook)
        session.flush()
        audit.record(
            session,
            clock,
            principal.actor,
            "webhook.removed",
            subject_kind="agency",
            subject_id=agency_id,
        )
