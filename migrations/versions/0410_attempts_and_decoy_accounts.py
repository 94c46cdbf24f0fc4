"""attempt slots taken before a secret is checked; decoy accounts instead of decoy flags

Revision ID: 0410
Revises: 0002
Create Date: 2026-12-01 16:00:00

- ``attempt_counters``: one row per guessed secret (survivor PIN, staff account, client
  address...), replacing ``survivors.pin_failures``/``locked_until`` and the in-process or Redis
  counters.
- A duress PIN now opens a decoy account of its own (``survivors.decoy_of``). Each existing
  duress PIN becomes the PIN of a new decoy account; its data key is made on first use.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0410"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attempt_counters",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forget_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_attempt_counters")),
    )
    with op.batch_alter_table("attempt_counters") as batch:
        batch.create_index(
            batch.f("ix_attempt_counters_forget_at"), ["forget_at"], unique=False
        )

    with op.batch_alter_table("survivors") as batch:
        batch.add_column(sa.Column("decoy_of", sa.Uuid(), nullable=True))
        batch.alter_column("handle_digest", existing_type=sa.String(length=64), nullable=True)
        batch.alter_column("pin_hash", existing_type=sa.String(length=200), nullable=True)
        batch.create_unique_constraint(batch.f("uq_survivors_decoy_of"), ["decoy_of"])
        batch.create_foreign_key(
            batch.f("fk_survivors_decoy_of_survivors"),
            "survivors",
            ["decoy_of"],
            ["id"],
            ondelete="CASCADE",
        )

    survivors = sa.table(
        "survivors",
        sa.column("id", sa.Uuid()),
        sa.column("handle_digest", sa.String()),
        sa.column("pin_hash", sa.String()),
        sa.column("duress_pin_hash", sa.String()),
        sa.column("timezone", sa.String()),
        sa.column("decoy_of", sa.Uuid()),
        sa.column("created_at", core.db.UTCDateTime(timezone=True)),
        sa.column("pin_failures", sa.Integer()),
    )
    conn = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    owners = conn.execute(
        sa.select(survivors.c.id, survivors.c.duress_pin_hash, survivors.c.timezone).where(
            survivors.c.duress_pin_hash.is_not(None)
        )
    ).all()
    for owner_id, duress_hash, timezone in owners:
        conn.execute(
            survivors.insert().values(
                id=uuid.uuid4(),
                handle_digest=None,
                pin_hash=duress_hash,
                timezone=timezone,
                decoy_of=owner_id,
                created_at=now,
                pin_failures=0,
            )
        )

    with op.batch_alter_table("survivors") as batch:
        batch.drop_column("duress_pin_hash")
        batch.drop_column("pin_failures")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("survivors") as batch:
        batch.add_column(sa.Column("duress_pin_hash", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("pin_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("locked_until", core.db.UTCDateTime(timezone=True), nullable=True)
        )
    # A decoy account's PIN goes back to its owner as the duress PIN; the decoy's own data is
    # dropped with it (the schema before this revision had nowhere to keep it).
    op.execute(
        "UPDATE survivors SET duress_pin_hash = (SELECT d.pin_hash FROM survivors d "
        "WHERE d.decoy_of = survivors.id) WHERE decoy_of IS NULL"
    )
    op.execute("DELETE FROM survivors WHERE decoy_of IS NOT NULL")
    with op.batch_alter_table("survivors") as batch:
        batch.drop_constraint(batch.f("fk_survivors_decoy_of_survivors"), type_="foreignkey")
        batch.drop_constraint(batch.f("uq_survivors_decoy_of"), type_="unique")
        batch.drop_column("decoy_of")
        batch.alter_column("pin_hash", existing_type=sa.String(length=200), nullable=False)
        batch.alter_column("handle_digest", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("attempt_counters") as batch:
        batch.drop_index(batch.f("ix_attempt_counters_forget_at"))
    op.drop_table("attempt_counters")
