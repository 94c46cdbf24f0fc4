"""Two journal entries written at the same moment both land, linked one after the other."""

from __future__ import annotations

import threading
from pathlib import Path

from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.runtime import build_runtime
from safety_plans import chain, journal
from safety_plans.deps import SafetyPlansDeps
from safety_plans.entries import EntryIn
from tests.conftest import make_settings
from tests.factories import make_survivor


def test_concurrent_appends_form_one_chain(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> None:
    engine = make_engine(committed_db)
    runtime = build_runtime(
        make_settings(tmp_path, committed_db, keyring),
        clock=FrozenClock(),
        engine=engine,
        keyring=keyring,
        hasher=fast_hasher,
    )
    deps = SafetyPlansDeps.from_settings(runtime.settings, runtime.vault)
    try:
        with runtime.session_factory() as s:
            survivor, _ = make_survivor(s, runtime)
            s.commit()
        access = SurvivorAccess(
            survivor.id, "self", SurvivorPrincipal(survivor.id, survivor.id, False)
        )
        first_in, release = threading.Event(), threading.Event()
        done: list[str] = []

        def write(text: str, hold: bool) -> None:
            with runtime.session_factory() as s:
                body: EntryIn = {
                    "occurred_text": "today",
                    "kinds": ["stalking"],
                    "description": text,
                }
                journal.create_entry(s, access, runtime.clock, deps, entry=body)
                if hold:
                    first_in.set()
                    release.wait(10)
                s.commit()
                done.append(text)

        a = threading.Thread(target=write, args=("A", True))
        a.start()
        assert first_in.wait(10)
        b = threading.Thread(target=write, args=("B", False))
        b.start()
        b.join(0.5)
        assert b.is_alive(), "B must wait for A's transaction"
        release.set()
        a.join(15)
        b.join(15)
        assert done == ["A", "B"], "both writers committed (a failed one raises in its thread)"
        with runtime.session_factory() as s:
            rows = journal.chain_rows(s, survivor.id)
            assert [r.seq for r in rows] == [1, 2]
            assert rows[0].prev_hash == chain.GENESIS
            assert rows[1].prev_hash == rows[0].chain_hash
            texts = []
            for r in rows:
                content = journal.open_content(s, deps, r)
                assert content is not None
                texts.append(content["description"])
            assert texts == ["A", "B"]
    finally:
        engine.dispose()
