"""Partner agencies and their API keys (the secret stored as a SHA-256 digest)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id


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
