"""Alerts out: created by system events or an advocate, fanned out per consent, pulled by
agencies without webhooks.

Each agency whose consent in force (or approved lawful-basis share) covers the alert's kind
gets one delivery row, with a payload holding only the reference, the kind, the time and the
kind's own fields; never a name, phone number or any text. The delivery id is the alert id
that agency sees, so two agencies cannot match their copies of one alert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess
from auth.partners.models import PartnerAgency
from auth.survivors import decoys
from auth.survivors.models import Survivor
from coordination import consents, lawful_basis
from coordination.deps import CoordinationDeps
from coordination.models import AgencyWebhook, Alert, Consent, Delivery, LawfulShare
from coordination.references import ensure_reference
from coordination.vocab import (
    ALERT_CONSENT_KIND,
    ALERT_FIELDS,
    ALERT_KINDS,
    RISK_LEVELS,
    SAFETY_STATUSES,
)
from core import audit, jobs
from core.clock import Clock
from core.crypto import Binding
from core.errors import InvalidInput
from core.ids import new_id

ALERT_TABLE = "coordination_alerts"
DELIVERY_TABLE = "coordination_deliveries"
DELIVER_JOB = "coordination.deliver"
MAX_ATTEMPTS = 10


class AlertFields(TypedDict, total=False):
    """An alert's own fields, those its kind allows (``ALERT_FIELDS``): none for most kinds."""

    status: str  # safety_status
    level: str  # risk_level
    marac_referral: bool  # risk_level


class AlertPayload(TypedDict):
    """What an agency is sent (a Standard Webhooks body, and a pulled alert's ``type`` and
    ``data``). ``data`` is the partner payload: the reference, the kind, the time and the
    kind's own fields, whose keys vary by kind, so it stays a free-form mapping."""

    type: str
    timestamp: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlertRaised:
    """An advocate's alert, as the console is answered (``AlertCreatedSchema``)."""

    id: uuid.UUID
    kind: str
    created_at: dt.datetime
    agencies: int  # how many were told


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def validate_data(kind: str, data: Mapping[str, Any]) -> AlertFields:
    """The alert's fields, checked: exactly those its kind allows, with allowed values."""
    if kind not in ALERT_KINDS:
        raise InvalidInput("Unknown alert kind.", errors={"kind": ["Unknown."]})
    allowed = ALERT_FIELDS[kind]
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise InvalidInput(
            "This kind of alert carries no such field.", errors={f: ["Not allowed."] for f in extra}
        )
    clean: AlertFields = {}
    if kind == "safety_status":
        if data.get("status") not in SAFETY_STATUSES:
            raise InvalidInput("Unknown status.", errors={"status": ["Unknown or missing."]})
        clean["status"] = data["status"]
    if kind == "risk_level":
        if data.get("level") not in RISK_LEVELS:
            raise InvalidInput("Unknown risk level.", errors={"level": ["Unknown or missing."]})
        if not isinstance(data.get("marac_referral", False), bool):
            raise InvalidInput(
                "Must be true or false.", errors={"marac_referral": ["Not a boolean."]}
            )
        clean["level"] = data["level"]
        clean["marac_referral"] = bool(data.get("marac_referral", False))
    return clean


def raise_for(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    kind: str,
    fields: Mapping[str, Any],
) -> AlertRaised:
    """An advocate raises an alert about the survivor they reached."""
    alert, sent = create_alert(
        session, access.actor, clock, deps, survivor_id=access.survivor_id, kind=kind, data=fields
    )
    return AlertRaised(alert.id, alert.kind, alert.created_at, len(sent))


def create_alert(
    session: Session,
    actor: audit.Actor,
    clock: Clock,
    deps: CoordinationDeps,
    *,
    survivor_id: uuid.UUID,
    kind: str,
    data: Mapping[str, Any],
    origin_key: str | None = None,
    only_agency_id: uuid.UUID | None = None,
) -> tuple[Alert, list[Delivery]]:
    """Raise an alert and fan it out, in the caller's transaction (system events, the listeners
    on other domains' hooks, and advocates through ``raise_for``): ``actor`` is the system or
    the advocate, as the audit log names them.

    With ``origin_key`` a second call for the same cause returns the first alert unchanged."""
    clean = validate_data(kind, data)
    if origin_key is not None:
        existing = session.scalars(select(Alert).where(Alert.origin_key == origin_key)).first()
        if existing is not None:
            return existing, list(
                session.scalars(select(Delivery).where(Delivery.alert_id == existing.id))
            )
    now = clock.now()
    alert_id = new_id()
    alert = Alert(
        id=alert_id,
        survivor_id=survivor_id,
        kind=kind,
        data_enc=deps.seal_json(
            session, Binding(ALERT_TABLE, "data_enc", alert_id, survivor_id), clean
        ),
        source="advocate" if actor.kind == "staff" else "system",
        created_by=actor.id if actor.kind == "staff" else None,
        origin_key=origin_key,
        created_at=now,
    )
    session.add(alert)
    session.flush()
    deliveries = _fan_out(session, clock, deps, alert, clean, only_agency_id)
    audit.record(
        session,
        clock,
        actor,
        "alert.created",
        subject_kind="alert",
        subject_id=alert.id,
        # An alarm (a duress, a welfare check after an escalation) must leave no trace the
        # survivor's (possibly coerced) app can list; what an agency was told still shows in
        # the disclosure log, which she chose by consenting.
        survivor_id=None if kind in ("duress", "welfare_check") else survivor_id,
        details={"kind": kind, "deliveries": len(deliveries)},
    )
    return alert, deliveries


Recipient = tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None]


def recipients(
    session: Session,
    survivor_id: uuid.UUID,
    kind: str,
    now: dt.datetime,
    only_agency_id: uuid.UUID | None = None,
) -> list[Recipient]:
    """Each agency that may hear an alert of ``kind`` about the survivor now, with the consent
    (preferred) or lawful-basis share it would rely on: ``(agency, consent, share)``."""
    consent_kind = ALERT_CONSENT_KIND[kind]
    bases: dict[uuid.UUID, tuple[uuid.UUID | None, uuid.UUID | None]] = {}
    for share in lawful_basis.shares_in_force(session, survivor_id, now):
        if consent_kind in share.kinds:
            bases.setdefault(share.agency_id, (None, share.id))
    for consent in consents.consents_in_force(session, survivor_id, now):
        if consent_kind in consent.kinds:
            bases[consent.agency_id] = (consent.id, None)
    found: list[Recipient] = []
    for agency_id, (consent_id, share_id) in sorted(bases.items(), key=lambda kv: str(kv[0])):
        if only_agency_id is not None and agency_id != only_agency_id:
            continue
        agency = session.get(PartnerAgency, agency_id)
        if agency is None or agency.disabled_at is not None:
            continue
        found.append((agency_id, consent_id, share_id))
    return found


def _fan_out(
    session: Session,
    clock: Clock,
    deps: CoordinationDeps,
    alert: Alert,
    fields: AlertFields,
    only_agency_id: uuid.UUID | None,
) -> list[Delivery]:
    if decoys.is_decoy_account(session, alert.survivor_id):
        # A decoy account's consents read back like any, but no agency ever hears of it.
        return []
    now = clock.now()
    deliveries = []
    for agency_id, consent_id, share_id in recipients(
        session, alert.survivor_id, alert.kind, now, only_agency_id
    ):
        reference = ensure_reference(session, clock, deps.keyring, agency_id, alert.survivor_id)
        delivery_id = new_id()
        body: AlertPayload = {
            "type": f"alert.{alert.kind}",
            "timestamp": _iso(now),
            "data": {
                "alert_id": str(delivery_id),
                "reference": reference,
                "kind": alert.kind,
                "raised_at": _iso(alert.created_at),
                **fields,
            },
        }
        delivery = Delivery(
            id=delivery_id,
            alert_id=alert.id,
            agency_id=agency_id,
            survivor_id=alert.survivor_id,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            consent_id=consent_id,
            lawful_share_id=share_id,
            payload_enc=deps.seal_json(
                session,
                Binding(DELIVERY_TABLE, "payload_enc", delivery_id, alert.survivor_id),
                body,
            ),
            state="pending",
            attempts=0,
            created_at=now,
        )
        session.add(delivery)
        session.flush()
        if session.get(AgencyWebhook, agency_id) is not None:
            delivery.job_id = enqueue_delivery(session, clock, delivery)
        deliveries.append(delivery)
    return deliveries


def enqueue_delivery(session: Session, clock: Clock, delivery: Delivery) -> uuid.UUID:
    job = jobs.enqueue(
        session, clock, DELIVER_JOB, {"delivery_id": str(delivery.id)}, max_attempts=MAX_ATTEMPTS
    )
    return job.id


def payload_of(session: Session, deps: CoordinationDeps, delivery: Delivery) -> AlertPayload:
    value: AlertPayload = deps.open_json(
        session,
        Binding(DELIVERY_TABLE, "payload_enc", delivery.id, delivery.survivor_id),
        delivery.payload_enc,
    )
    return value


def basis_in_force(session: Session, delivery: Delivery, kind: str, now: dt.datetime) -> bool:
    """Whether the consent or share a delivery relied on still allows it (checked at send)."""
    consent_kind = ALERT_CONSENT_KIND[kind]
    if delivery.consent_id is not None:
        consent = session.get(Consent, delivery.consent_id, populate_existing=True)
        return (
            consent is not None
            and consents.state_of(consent, now) == consents.ACTIVE
            and consent_kind in consent.kinds
        )
    if delivery.lawful_share_id is not None:
        share = session.get(LawfulShare, delivery.lawful_share_id, populate_existing=True)
        return (
            share is not None
            and share.state == lawful_basis.APPROVED
            and share.valid_until is not None
            and share.valid_until > now
            and consent_kind in share.kinds
        )
    return False


def blocked_reason(
    session: Session, delivery: Delivery, alert: Alert | None, now: dt.datetime
) -> str | None:
    """Why this delivery must not be sent now, if it must not (checked before every try)."""
    if alert is None:
        return "alert_gone"
    survivor = session.get(Survivor, delivery.survivor_id)
    if survivor is None or survivor.erased_at is not None:
        return "survivor_erased"
    if survivor.decoy_of is not None:
        return "decoy_account"
    agency = session.get(PartnerAgency, delivery.agency_id)
    if agency is None or agency.disabled_at is not None:
        return "agency_disabled"
    if not basis_in_force(session, delivery, alert.kind, now):
        return "basis_not_in_force"
    return None
