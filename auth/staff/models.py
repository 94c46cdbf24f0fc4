"""Staff tables: accounts, invitations, recovery codes and sessions.

Passwords and recovery codes are stored as argon2id hashes, session and invitation tokens as
SHA-256 digests, TOTP seeds and the duty phone encrypted; never a credential in clear.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id

ROLES = ("advocate", "supervisor", "admin")


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
    # ``api`` (a bearer token for /v1) or ``console`` (the web console's cookie): each
    # authenticates only on its own channel (``auth.authn``).
    channel: Mapped[str] = mapped_column(String(8), default="api", server_default="api")
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    second_factor_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
