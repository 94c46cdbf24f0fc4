"""a decoy account's number gets a blind index of its own

Revision ID: 0230
Revises: 0220
Create Date: 2026-12-02 10:00:00

A decoy account now texts its own check-ins to its own number, as a real account does, and
its reply codes answer them. Its number is found through ``decoy_phone_index`` (HMAC under a
purpose key of its own), never through ``phone_index``: a number set in a decoy must never
make a real survivor's number shared, or reach anything that looks for real survivors.

Decoy numbers set before this revision have no index yet (the key is outside the database):
each gets one when it is next set or texted (``messaging.sms.sending.queue_survivor_sms``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0230"
down_revision: str | None = "0220"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survivors") as batch:
        batch.add_column(sa.Column("decoy_phone_index", sa.String(length=64), nullable=True))
        batch.create_index("ix_survivors_decoy_phone_index", ["decoy_phone_index"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("survivors") as batch:
        batch.drop_index("ix_survivors_decoy_phone_index")
        batch.drop_column("decoy_phone_index")
