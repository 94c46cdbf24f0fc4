"""Identity and access tables: staff, survivors, caseloads, partner agencies and their keys.

Credentials are never stored in clear: passwords, PINs and recovery codes as argon2id hashes;
high-entropy tokens as SHA-256 digests; short enrollment codes as keyed digests (a leaked
table cannot be brute-forced offline without the index key); TOTP seeds and phone numbers
encrypted.
"""

from __future__ import annotations

import datetime as dt
import uuid

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

ROLES = ("advocate", "supervisor", "admin")


# --- staff ----------------------------------------------------------------------------------


class StaffMember(Base):
    __tablename__ = "staff_members"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[dt.datetime]
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # A seed being enrolled (first time or after a reset); the active seed above keeps working
    # until a code from this one confirms it, so an abandoned reset locks nobody out.
    totp_pending_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enrolled_at: Mapped[dt.datetime | None]
    # The newest 30-second step ever accepted: that step and all older ones are refused.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]


class StaffInvitation(Base):
    __tablename__ = "staff_invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class StaffRecoveryCode(Base):
    __tablename__ = "staff_recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class StaffSession(Base):
    """A staff login. ``stage`` is ``password`` (second factor pending), ``enroll`` (must
    enrol TOTP first; reaches nothing else) or ``full``."""

    __tablename__ = "staff_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    stage: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    second_factor_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


# --- survivors ------------------------------------------------------------------------------


class Survivor(Base):
    """A survivor's account. No name, email or phone number is needed to have one."""

    __tablename__ = "survivors"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    # What the app logs in with (random, shown nowhere); the digest is stored, not the handle.
    # A decoy account has none: it is reached only through its owner's duress PIN.
    handle_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The PIN that opens this account. A decoy account's PIN is its owner's duress PIN (None
    # once the owner removed it: the decoy is kept, unreachable, in case it is set again).
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Not unique: two survivors may share a household phone, and refusing the second would
    # tell her the number is known here (messaging/sms/webhooks.py routes shared numbers). A
    # decoy account's number is never indexed here, so it can never make a real survivor's
    # number shared, nor be found by what looks for real survivors...
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # ...but here, under a key of its own (``core.crypto.decoy_phone_index``): only for its own
    # check-in reply codes, which no real holder's code matches (messaging/sms/webhooks.py).
    decoy_phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    # Set on a decoy account: the account whose duress PIN opens it. A decoy account is a
    # whole survivor record of its own (plan, journal, messages...), so everything done in a
    # duress session reads back as it would in a real one; it has no caseload, and nothing it
    # does reaches staff or partner agencies; it texts only its own check-ins to its own
    # number (see ``auth.survivors.decoys``).
    decoy_of: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[dt.datetime]
    erased_at: Mapped[dt.datetime | None]


class AttemptCounter(Base):
    """Guesses at one secret (a survivor's PIN, a staff account, a client address...).

    The key is a keyed digest (never an email, handle or address in clear). A slot is taken,
    and the lock for a failure set, in one committed statement *before* the secret is checked
    (``auth.attempts``), so parallel guesses cannot all pass a check made before any of them
    failed.
    """

    __tablename__ = "attempt_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None]
    # When this run of attempts is forgotten (``AttemptPolicy.forget_after`` after an
    # account's last attempt, or after the first attempt of an address's run).
    forget_at: Mapped[dt.datetime] = mapped_column(index=True)


class CaseloadEntry(Base):
    """An advocate working with a survivor. A survivor may have several advocates."""

    __tablename__ = "caseload_entries"
    __table_args__ = (UniqueConstraint("survivor_id", "staff_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"), index=True)
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_members.id"))
    assigned_at: Mapped[dt.datetime]


class EnrollmentCode(Base):
    __tablename__ = "enrollment_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    survivor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("survivors.id", ondelete="SET NULL")
    )
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)


class SurvivorDevice(Base):
    """One device session: a short-lived access token and a family of rotating refresh tokens.

    ``decoy`` marks a session opened with the duress PIN. It is never sent to any client.
    """

    __tablename__ = "survivor_devices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    label_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    decoy: Mapped[bool] = mapped_column(Boolean, default=False)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    access_expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class SurvivorRefreshToken(Base):
    __tablename__ = "survivor_refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivor_devices.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class BreakGlassGrant(Base):
    """A supervisor's recorded, time-limited reason to read one survivor's record."""

    __tablename__ = "break_glass_grants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    supervisor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"), index=True)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    reason_enc: Mapped[bytes] = mapped_column(LargeBinary)  # sealed with the survivor's key
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


# --- partner agencies -----------------------------------------------------------------------


class PartnerAgency(Base):
    __tablename__ = "partner_agencies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    contact: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime]
    disabled_at: Mapped[dt.datetime | None]


class PartnerApiKey(Base):
    """``key_id`` is public (it names the key); the secret is shown once and stored digested."""

    __tablename__ = "partner_api_keys"
    __table_args__ = (Index("ix_partner_api_keys_agency", "agency_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_agencies.id", ondelete="CASCADE")
    )
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
    replaced_by: Mapped[uuid.UUID | None]
