"""The migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from api.migrate import current_revisions, head_revisions
from api.registry import load_models
from core.db import Base


def test_database_is_at_every_head(engine: Engine) -> None:
    with engine.connect() as conn:
        assert current_revisions(conn) == head_revisions()


def test_alembic_head_matches_models(engine: Engine) -> None:
    load_models()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
