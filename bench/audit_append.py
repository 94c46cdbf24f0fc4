"""Micro-benchmark of the audit chain's append cost (not a test; issue 12 section 8).

    [LANTERN_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test] \
        .venv/bin/python -m bench.audit_append

Prints, per backend: the cost of hashing one event, and events per second (and the client
process's CPU time per event, which other load on a shared machine disturbs less) for one event
per transaction and for 50 events per transaction (the check-in burst's shape), each the
median of five rounds on a freshly migrated database of its own.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from core import audit
from core.audit import Actor, AuditEvent
from core.clock import SystemClock
from core.crypto import KeyRing
from core.db import make_engine, make_session_factory
from tests.conftest import PG_URL, create_database

ROUNDS = 5


def _hash_cost(ring: KeyRing) -> float:
    event = AuditEvent(
        seq=1,
        id=uuid.uuid4(),
        occurred_at=SystemClock().now(),
        actor_kind="staff",
        actor_id=uuid.uuid4(),
        action="plan.read",
        subject_kind="safety_plan",
        subject_id=uuid.uuid4(),
        survivor_id=uuid.uuid4(),
        request_id="r" * 22,
        details={"section": 3, "fields": ["risks", "contacts"]},
        prev_hash=audit.GENESIS,
    )
    chain_hash: Any = getattr(audit, "chain_hash", None)
    event_hash: Any = getattr(audit, "_event_hash", None)  # only in a checkout from before
    keys = _keys(ring)  # once, as the runtime binds them once
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        if chain_hash is not None:
            chain_hash(keys, event)
        else:  # before the chain was keyed
            event_hash(event.prev_hash, audit._fields(event))
    return (time.perf_counter() - t0) / n * 1e6


def _keys(ring: KeyRing) -> Any:
    return ring.audit_chain_keys() if hasattr(ring, "audit_chain_keys") else None


def _factory_kwargs(ring: KeyRing) -> dict[str, Any]:
    info = getattr(audit, "session_info", None)
    return {"info": info(_keys(ring))} if info else {}


def _rate(url: str, ring: KeyRing, per_tx: int, txs: int) -> tuple[float, float]:
    engine = make_engine(url)
    factory = make_session_factory(engine, **_factory_kwargs(ring))
    clock = SystemClock()
    actor = Actor("staff", uuid.uuid4())
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(txs):
            with factory() as s:
                for i in range(per_tx):
                    audit.record(
                        s,
                        clock,
                        actor,
                        "plan.read",
                        subject_kind="safety_plan",
                        subject_id=uuid.uuid4(),
                        survivor_id=uuid.uuid4(),
                        details={"section": i, "fields": ["risks", "contacts"]},
                    )
                s.commit()
        n = per_tx * txs
        return n / (time.perf_counter() - t0), (time.process_time() - c0) / n * 1e6
    finally:
        engine.dispose()


def main() -> None:
    ring = KeyRing.generate()
    print(f"hash one event: {statistics.median(_hash_cost(ring) for _ in range(ROUNDS)):.1f} us")
    backends = ["sqlite"] + (["postgresql"] if PG_URL else [])
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for per_tx, txs in ((1, 300), (50, 20)):
                rates, cpu = [], []
                for _ in range(ROUNDS):
                    url, drop = create_database(backend, Path(tmp))
                    try:
                        rate, cpu_us = _rate(url, ring, per_tx, txs)
                    finally:
                        drop()
                    rates.append(rate)
                    cpu.append(cpu_us)
                print(
                    f"{backend}: {per_tx} event(s)/transaction: "
                    f"{statistics.median(rates):,.0f} events/s, "
                    f"{statistics.median(cpu):,.0f} us client CPU per event (median of {ROUNDS})"
                )


if __name__ == "__main__":
    main()
