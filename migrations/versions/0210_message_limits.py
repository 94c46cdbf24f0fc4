"""messaging: indexes for messages per minute (per survivor, per staff member)

Revision ID: 0210
Revises: 0201
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0210"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_conversation_messages_survivor_sent",
        "conversation_messages",
        ["survivor_id", "sender_kind", "created_at"],
    )
    op.create_index(
        "ix_conversation_messages_staff_sent",
        "conversation_messages",
        ["sender_staff_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_messages_staff_sent", table_name="conversation_messages")
    op.drop_index("ix_conversation_messages_survivor_sent", table_name="conversation_messages")
