"""An entry claiming an old upload while the sweep shreds old uploads: never both.

On PostgreSQL, two real connections: the entry's transaction holds the upload it claims, and
the sweep running at that moment must leave that upload alone (it would otherwise shred an
attachment the entry is about to point at, and the journal would hold a dead link).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.jobs import Job, JobContext
from core.runtime import build_runtime
from safety_plans import attachments, journal
from safety_plans.deps import SafetyPlansDeps
from safety_plans.entries import EntryIn
from safety_plans.models import JournalAttachment
from tests.conftest import make_settings
from tests.factories import make_survivor

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_an_entry_claiming_an_old_upload_wins_over_the_sweep(
    backend: str, committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the two cannot overlap there")
    clock = FrozenClock()
    engine = make_engine(committed_db)
    runtime = build_runtime(
        make_settings(tmp_path, committed_db, keyring),
        clock=clock,
        engine=engine,
        keyring=keyring,
        hasher=fast_hasher,
    )
    deps = SafetyPlansDeps.from_settings(runtime.settings, runtime.vault)
    storage = deps.storage
    try:
        with runtime.session_factory() as s:
            survivor, _ = make_survivor(s, runtime)
            s.commit()
        access = SurvivorAccess(
            survivor.id, "self", SurvivorPrincipal(survivor.id, survivor.id, False)
        )
        with runtime.session_factory() as s:
            upload = attachments.upload(s, access, clock, deps, data=PNG)
            s.commit()
        clock.advance(seconds=attachments.DRAFT_LIFETIME.total_seconds() + 60)

        entry_session = runtime.session_factory()
        body: EntryIn = {
            "occurred_text": "today",
            "kinds": ["stalking"],
            "description": "with a photo",
            "attachment_ids": [upload.id],
        }
        # The entry claims the upload (its transaction stays open, holding the row)...
        journal.create_entry(entry_session, access, clock, deps, entry=body)

        # ...while the sweep runs on another connection, in its own thread as in a worker.
        def sweep() -> None:
            with runtime.session_factory() as sweep_session:
                job = Job(id=upload.id, kind=attachments.SWEEP_JOB, payload={}, attempts=1)
                ctx = JobContext(sweep_session, clock, job)
                attachments.sweep_handler(ctx, {}, storage=storage)
                sweep_session.commit()

        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        sweeper.join(2)  # an unlocked sweep waits here on the entry's row, then shreds it
        entry_session.commit()
        entry_session.close()
        sweeper.join(15)
        assert not sweeper.is_alive()

        with runtime.session_factory() as s:
            row = s.get(JournalAttachment, upload.id)
            assert row is not None
            assert row.entry_id is not None, "the entry's claim was lost"
            assert row.key_enc is not None, "the sweep shredded an attachment in use"
            assert row.shredded_at is None
        assert storage.get(upload.id.hex) is not None
    finally:
        engine.dispose()
