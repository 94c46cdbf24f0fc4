"""Who may reach which survivor: caseload entries and break-glass grants; and the case label
the staff who reach a survivor know her by."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, LargeBinary, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.ids import new_id


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


class CaseLabel(Base):
    """The advocate-set name a survivor is known by on staff screens (``auth.access.case_labels``).

    One per survivor, sealed with her data key (it may say who she is), so it goes with her
    erasure like the rest of her data; no row means no label.
    """

    __tablename__ = "case_labels"

    survivor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survivors.id", ondelete="CASCADE"), primary_key=True
    )
    label_enc: Mapped[bytes] = mapped_column(LargeBinary)
    updated_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_members.id"))
    updated_at: Mapped[dt.datetime]
