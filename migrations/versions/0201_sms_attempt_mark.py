"""outbound SMS: mark when a send was handed to the provider

Revision ID: 0201
Revises: 0200
Create Date: 2026-11-24 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0201"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_sms") as batch:
        batch.add_column(
            sa.Column("attempt_started_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbound_sms") as batch:
        batch.drop_column("attempt_started_at")
