"""Storage limits hold under a burst of parallel requests on real connections.

Each request of a burst runs in its own thread, connection and transaction against a committed
database. Counting what is stored and then storing is two steps: without serialising the
principal's writes, every request of a burst would count before any of them committed and all
would pass. On PostgreSQL that is the test that matters; on SQLite writers queue anyway.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.runtime import Runtime, build_runtime
from safety_plans.models import JournalAttachment, JournalEntry, SafetyPlanVersion
from safety_plans.sections import SECTIONS, Sections
from tests.conftest import make_settings
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient
from tests.refusals import burst
from tests.safety_plans.test_journal import ENTRIES, JPEG, UPLOAD, entry

AppFactory = Callable[..., tuple[Flask, Runtime]]


@pytest.fixture
def committed_app(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> Iterator[AppFactory]:
    from api.app import create_app

    engines = []

    def build(**overrides: Any) -> tuple[Flask, Runtime]:
        engine = make_engine(committed_db, pool_size=20)
        engines.append(engine)
        settings = make_settings(tmp_path, committed_db, keyring, **overrides)
        runtime = build_runtime(
            settings, clock=FrozenClock(), engine=engine, keyring=keyring, hasher=fast_hasher
        )
        return create_app(settings, runtime=runtime), runtime

    yield build
    for engine in engines:
        engine.dispose()


def survivor_app(
    committed_app: AppFactory, **overrides: Any
) -> tuple[Flask, Runtime, uuid.UUID, dict[str, str]]:
    """An app with these settings, and one survivor's id and headers (committed)."""
    app, runtime = committed_app(**overrides)
    with runtime.session_factory() as s:
        survivor, token = make_survivor(s, runtime)
        s.commit()
    return app, runtime, survivor.id, auth_header(token)


def _count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_burst_of_plan_saves_by_one_advocate_stores_no_more_than_the_limit(
    committed_app: AppFactory,
) -> None:
    app, runtime = committed_app()
    limit = runtime.settings.plan_saves_per_minute
    with runtime.session_factory() as s:
        advocate, token = make_staff(s, runtime)
        survivors = [make_survivor(s, runtime, advocate=advocate)[0] for _ in range(limit + 4)]
        s.commit()
    h = auth_header(token)
    paths = [f"/v1/staff/survivors/{sv.id}/safety-plan" for sv in survivors]
    reader = JsonClient(app)
    etags = [reader.get(p, headers=h).headers["ETag"] for p in paths]
    notes: Sections = {name: [] for name in SECTIONS} | {"notes": [{"text": "from the advocate"}]}

    def save(path: str, etag: str) -> Callable[[JsonClient], Any]:
        return lambda c: c.put(path, json={"sections": notes}, headers=h | {"If-Match": etag})

    statuses = burst(app, [save(p, e) for p, e in zip(paths, etags, strict=True)])
    assert statuses == [200] * limit + [429] * 4
    stored = _count(runtime, SafetyPlanVersion, SafetyPlanVersion.author_id == advocate.id)
    assert stored == limit


def test_a_burst_of_journal_entries_stores_no_more_than_the_limit(
    committed_app: AppFactory,
) -> None:
    app, runtime, survivor_id, h = survivor_app(committed_app, journal_entries_per_day=3)
    statuses = burst(app, [lambda c: c.post(ENTRIES, json=entry(), headers=h)] * 8)
    assert statuses == [201] * 3 + [429] * 5
    assert _count(runtime, JournalEntry, JournalEntry.survivor_id == survivor_id) == 3


def test_a_burst_of_uploads_stores_no_more_than_the_room(
    committed_app: AppFactory, tmp_path: Path
) -> None:
    app, runtime, survivor_id, h = survivor_app(committed_app, attachment_quota_bytes=3 * len(JPEG))

    def send(c: JsonClient) -> Any:
        data = {"file": (io.BytesIO(JPEG), "photo.jpg")}
        return c.post(UPLOAD, data=data, headers=h, content_type="multipart/form-data")

    assert burst(app, [send] * 8) == [201] * 3 + [413] * 5
    live = _count(
        runtime,
        JournalAttachment,
        JournalAttachment.survivor_id == survivor_id,
        JournalAttachment.key_enc.is_not(None),
    )
    assert live == 3
    blobs = [p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
    assert len(blobs) == 3, "a refused upload leaves no file behind"
