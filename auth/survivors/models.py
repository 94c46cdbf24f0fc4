"""Survivor tables: the account, enrollment codes, device sessions and their refresh tokens.

PINs are stored as argon2id hashes, tokens as SHA-256 digests, enrollment codes as keyed digests
(a leaked table cannot be brute-forced offline without the index key), the phone number
encrypted and found through a blind index.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id


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
