"""Two writers with the same ETag at the same moment, on real connections: one wins.

The first writer holds its transaction open after its compare-and-swap; the second, with the
same If-Match, starts while it is open. On PostgreSQL the second UPDATE waits for the row lock
and then finds the condition false; on SQLite the second transaction waits for the write lock
and then reads the new version. Either way it must get 412 and the first write must survive.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.errors import PreconditionFailed
from core.runtime import build_runtime
from safety_plans import plans
from safety_plans.deps import SafetyPlansDeps
from tests.conftest import make_settings
from tests.factories import make_survivor


def test_concurrent_writers_same_etag_second_gets_412(
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
    clock = runtime.clock
    try:
        with runtime.session_factory() as s:
            survivor, _ = make_survivor(s, runtime)
            s.commit()
            principal = SurvivorPrincipal(survivor.id, survivor.id, False)
            access = SurvivorAccess(survivor.id, "self", principal)
            first = plans.get_plan(s, access, clock, deps)
            s.commit()
        etag = first.etag
        sections = first.sections

        a_flushed, release_a = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def writer_a() -> None:
            with runtime.session_factory() as s:
                view = plans.save_plan(
                    s,
                    access,
                    clock,
                    deps,
                    if_match=etag,
                    sections=sections | {"notes": [{"text": "A"}]},
                )
                a_flushed.set()
                release_a.wait(10)
                s.commit()
                outcome["a"] = view.version.number

        def writer_b() -> None:
            with runtime.session_factory() as s:
                try:
                    plans.save_plan(
                        s,
                        access,
                        clock,
                        deps,
                        if_match=etag,
                        sections=sections | {"notes": [{"text": "B"}]},
                    )
                    s.commit()
                    outcome["b"] = "saved"
                except PreconditionFailed:
                    s.rollback()
                    outcome["b"] = 412

        ta = threading.Thread(target=writer_a)
        ta.start()
        assert a_flushed.wait(10)
        tb = threading.Thread(target=writer_b)
        tb.start()
        time.sleep(0.5)  # B is now blocked on A's lock (or about to be)
        assert "b" not in outcome, "B must not finish while A holds its transaction"
        release_a.set()
        ta.join(15)
        tb.join(15)
        assert outcome == {"a": 2, "b": 412}
        with runtime.session_factory() as s:
            now = plans.get_plan(s, access, clock, deps)
            assert now.sections["notes"] == [{"text": "A"}]
            assert now.version.number == 2
    finally:
        engine.dispose()
