"""safety plans: indexes for the storage limits (saves per minute, journal entries per day)

Revision ID: 0110
Revises: 0100
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0110"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_safety_plan_versions_author_recent",
        "safety_plan_versions",
        ["author_id", "created_at"],
    )
    op.create_index(
        "ix_journal_entries_survivor_recent", "journal_entries", ["survivor_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_journal_entries_survivor_recent", table_name="journal_entries")
    op.drop_index("ix_safety_plan_versions_author_recent", table_name="safety_plan_versions")
