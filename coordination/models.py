"""Coordination tables: references, webhooks, consents, lawful-basis shares, alerts, deliveries,
inbound agency events, the disclosure log and the survivor's own notices.

Survivor content (a consent's purpose and text, an alert's fields, a delivery's payload, an
event's note, the reasoning of a lawful-basis share) is sealed with the survivor's data key and
bound to its row; everything left in clear is an id, a kind, a state or a time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id

_AGENCY_FK = "partner_agencies.id"
_SURVIVOR_FK = "survivors.id"


class AgencyReference(Base):
    """The pseudonym one agency knows one survivor by (a keyed HMAC, kept for reverse lookup)."""

    __tablename__ = "coordination_references"
    __table_args__ = (UniqueConstraint("agency_id", "survivor_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_AGENCY_FK, ondelete="CASCADE"))
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[dt.datetime]


class AgencyWebhook(Base):
    """An agency's webhook endpoint and its signing secrets (AEAD-encrypted, bound to it)."""

    __tablename__ = "coordination_webhooks"

    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(_AGENCY_FK, ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # During a rotation the previous secret still signs until this time (receivers accept
    # either signature), so the agency can switch without losing a message.
    previous_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_valid_until: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class Consent(Base):
    __tablename__ = "coordination_consents"
    __table_args__ = (
        Index("ix_coordination_consents_survivor_agency", "survivor_id", "agency_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"))
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_AGENCY_FK, ondelete="CASCADE"))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    purpose_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    text_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed: exactly what was shown
    receipt_hash: Mapped[str] = mapped_column(String(64))
    given_via: Mapped[str] = mapped_column(String(24))  # app, advocate_recorded
    state: Mapped[str] = mapped_column(String(24))  # pending_confirmation, active, revoked
    recorded_by: Mapped[uuid.UUID | None]  # the advocate who recorded it
    starts_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    confirmed_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_kind: Mapped[str | None] = mapped_column(String(16))
    revoked_by_id: Mapped[uuid.UUID | None]
    expiry_warned_at: Mapped[dt.datetime | None]


class LawfulShare(Base):
    """Sharing without consent (vital interests, safeguarding): two people, a limited time."""

    __tablename__ = "coordination_lawful_shares"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_AGENCY_FK, ondelete="CASCADE"))
    kinds: Mapped[list[str]] = mapped_column(JSON)
    basis: Mapped[str] = mapped_column(String(32))  # vital_interests, safeguarding
    reasoning_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    tell_survivor: Mapped[bool] = mapped_column(Boolean)
    not_telling_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed
    duration_hours: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # pending, approved, rejected, withdrawn
    requested_by: Mapped[uuid.UUID]
    decided_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    valid_until: Mapped[dt.datetime | None]


class Alert(Base):
    __tablename__ = "coordination_alerts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed JSON of the kind's fields
    source: Mapped[str] = mapped_column(String(16))  # system, advocate
    # Set by callers that may run twice for one cause (a retried duress job): one alert each.
    origin_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime]


class Delivery(Base):
    """One alert for one agency: a stable webhook-id, a payload sealed at fan-out, its state.

    The agency sees ``id`` as the alert id: the underlying alert id is never shown, so two
    agencies cannot match their copies of one alert.
    """

    __tablename__ = "coordination_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "agency_id"),
        Index("ix_coordination_deliveries_agency_cursor", "agency_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("coordination_alerts.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_AGENCY_FK, ondelete="CASCADE"))
    survivor_id: Mapped[uuid.UUID] = mapped_column(index=True)
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[uuid.UUID | None]
    lawful_share_id: Mapped[uuid.UUID | None]
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed JSON body
    # pending, delivered, dead, cancelled, endpoint_disabled
    state: Mapped[str] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]
    pulled_at: Mapped[dt.datetime | None]
    acked_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    cancelled_reason: Mapped[str | None] = mapped_column(String(32))


class AgencyEvent(Base):
    """An event about the abuser, sent by an agency against its reference; one per event id."""

    __tablename__ = "coordination_agency_events"
    __table_args__ = (UniqueConstraint("agency_id", "event_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_AGENCY_FK, ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(100))
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[dt.datetime]
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed
    request_digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime]


class Disclosure(Base):
    """One line of the disclosure log: what was shared with (or received from) whom, and why."""

    __tablename__ = "coordination_disclosures"
    __table_args__ = (Index("ix_coordination_disclosures_survivor", "survivor_id", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"))
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_AGENCY_FK, ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # out, in
    what: Mapped[str] = mapped_column(String(16))  # alert, event, lawful_share
    kind: Mapped[str] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(String(32))  # consent, vital_interests, ...
    consent_id: Mapped[uuid.UUID | None]
    lawful_share_id: Mapped[uuid.UUID | None]
    subject_id: Mapped[uuid.UUID]
    occurred_at: Mapped[dt.datetime]


class SurvivorNotice(Base):
    """A neutral line the survivor's app lists (a consent about to end, news from an agency)."""

    __tablename__ = "coordination_survivor_notices"
    __table_args__ = (Index("ix_coordination_survivor_notices", "survivor_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]


class SharingPreference(Base):
    """The survivor's own choices about what Lantern tells them."""

    __tablename__ = "coordination_preferences"

    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(_SURVIVOR_FK, ondelete="CASCADE"), primary_key=True
    )
    agency_news: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime]
