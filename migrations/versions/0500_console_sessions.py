"""staff sessions know their channel: the API's bearer token or the console's cookie

Revision ID: 0500
Revises: 0410
Create Date: 2026-12-01 22:30:00

A console session (cookie) never authenticates a ``/v1`` call and a bearer token never opens a
console page; the channel is written when the login starts and checked on every request, so a
session cannot cross over even if its token were moved from one carrier to the other. Existing
sessions are API sessions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500"
down_revision: str | None = "0410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=8), nullable=False, server_default="api")
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions") as batch:
        batch.drop_column("channel")
