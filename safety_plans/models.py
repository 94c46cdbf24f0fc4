"""Safety plans, risk assessments and the evidence journal: rows hold ciphertext and structure.

Everything a survivor (or their advocate) writes is sealed with the survivor's data key
(core.vault), bound to ``table|column|row id|survivor id``. What stays in clear is structure
the service needs to work: ids, version numbers, timestamps, who wrote a version, chain hashes.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
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


class SafetyProfile(Base):
    """One row per survivor: sharing switches, priorities, decoy plan, MARAC eligibility."""

    __tablename__ = "safety_profiles"

    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), primary_key=True
    )
    # The survivor decides whether their advocate sees and co-edits the plan (default on)...
    plan_shared: Mapped[bool] = mapped_column(Boolean, default=True)
    # ...and whether the advocate may read the evidence journal (default off).
    journal_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    priorities_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    decoy_plan_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    decoy_updated_at: Mapped[dt.datetime | None]
    # Set when an assessment reaches a referral criterion (highest band or escalation).
    marac_eligible_at: Mapped[dt.datetime | None]
    marac_assessment_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class SafetyPlan(Base):
    """The one living plan of a survivor; its content lives in versions."""

    __tablename__ = "safety_plans"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), unique=True
    )
    # Compare-and-swap target: a write names the version it read (If-Match) and succeeds only
    # if this still equals it. No FK: versions point at the plan, not the other way round.
    current_version_id: Mapped[uuid.UUID]
    version_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class SafetyPlanVersion(Base):
    """One saved state of a plan; never changed after it is written."""

    __tablename__ = "safety_plan_versions"
    __table_args__ = (
        UniqueConstraint("plan_id", "number"),
        # Saves per minute count an author's newest versions (core.limits).
        Index("ix_safety_plan_versions_author_recent", "author_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("safety_plans.id", ondelete="CASCADE"), index=True
    )
    survivor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("survivors.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    sections_enc: Mapped[bytes] = mapped_column(LargeBinary)
    author_kind: Mapped[str] = mapped_column(String(16))  # system, survivor, staff
    author_id: Mapped[uuid.UUID | None]
    restored_from: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]


class RiskAssessment(Base):
    """One completed instrument: answers and result sealed; who and when in clear."""

    __tablename__ = "risk_assessments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    instrument_id: Mapped[str] = mapped_column(String(64))
    taken_by_kind: Mapped[str] = mapped_column(String(16))  # survivor, staff
    taken_by_id: Mapped[uuid.UUID | None]
    answers_enc: Mapped[bytes] = mapped_column(LargeBinary)
    result_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]


class JournalEntry(Base):
    """One link of a survivor's journal hash chain: an entry, or a deletion tombstone."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        UniqueConstraint("survivor_id", "seq"),
        # Entries per day count a survivor's newest entries (core.limits).
        Index("ix_journal_entries_survivor_recent", "survivor_id", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    entry_type: Mapped[str] = mapped_column(String(16))  # entry, deletion
    # Corrections are new entries naming the one they amend; deletions name what they delete.
    refers_to: Mapped[uuid.UUID | None]
    # None once the survivor deleted the entry: the content is gone, the chain link stays.
    content_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_at: Mapped[dt.datetime]
    deleted_at: Mapped[dt.datetime | None]
    # sha256 over the canonical content, which holds a random salt so that the digest is no
    # oracle for guessing short fields (a police reference) from a database copy.
    content_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))


class JournalHead(Base):
    """The tip of one survivor's chain; updated by compare-and-swap on every append."""

    __tablename__ = "journal_heads"

    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), primary_key=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))


class JournalAttachment(Base):
    """A photo, recording or document; the blob is in storage, encrypted under its own key."""

    __tablename__ = "journal_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_entries.id", ondelete="SET NULL"), index=True
    )
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # The plaintext's sha256, sealed: in clear it would confirm a known photo from a DB copy.
    digest_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # The blob key sealed by the survivor's data key; erased (None) to shred the blob.
    key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime]
    shredded_at: Mapped[dt.datetime | None]
