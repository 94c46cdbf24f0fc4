"""case labels: the advocate-set name of a survivor's case on staff screens

Revision ID: 0420
Revises: 0410
Create Date: 2026-12-08 10:00:00

- ``case_labels``: one row per labelled survivor, the label sealed with her data key
  (``auth.access.case_labels``); deleted with her.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0420"
down_revision: str | None = "0410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_labels",
        sa.Column("survivor_id", sa.Uuid(), nullable=False),
        sa.Column("label_enc", sa.LargeBinary(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["survivors.id"],
            name=op.f("fk_case_labels_survivor_id_survivors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["staff_members.id"],
            name=op.f("fk_case_labels_updated_by_staff_members"),
        ),
        sa.PrimaryKeyConstraint("survivor_id", name=op.f("pk_case_labels")),
    )


def downgrade() -> None:
    op.drop_table("case_labels")
