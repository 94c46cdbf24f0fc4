"""survivors may share a phone number: the blind index is no longer unique

Revision ID: 0220
Revises: 0201
Create Date: 2026-12-01 16:00:00

Refusing a number another survivor holds told whoever set it that the number is known to the
service. The index stays (inbound SMS finds survivors by it); an inbound text that no single
survivor can claim is kept for deduplication without a survivor.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0220"
down_revision: str | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survivors") as batch:
        batch.drop_constraint("uq_survivors_phone_index", type_="unique")
        batch.create_index("ix_survivors_phone_index", ["phone_index"], unique=False)
    with op.batch_alter_table("inbound_sms") as batch:
        batch.alter_column("survivor_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    # Fails while two survivors share a number or an unattributed text is kept: a downgrade
    # must not choose whose number, or which text, to drop.
    with op.batch_alter_table("inbound_sms") as batch:
        batch.alter_column("survivor_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("survivors") as batch:
        batch.drop_index("ix_survivors_phone_index")
        batch.create_unique_constraint("uq_survivors_phone_index", ["phone_index"])
