"""A deployment of the app on a committed database of the test's own, for bursts of requests
in parallel (threads, one connection each), with a gate that makes them overlap for certain.

The gate holds each request of a burst at its first decision point (the hasher's first verify,
or whatever a test routes through ``Gate.reach``) until the whole burst is there. On SQLite,
where every transaction holds the one write lock from its first statement, it only counts
arrivals: waiting there would wait on a request that waits on the waiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from api.app import create_app
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.runtime import Runtime, build_runtime
from tests.conftest import make_settings

BURST = 12


@dataclass
class Gate:
    """Holds each request at its first decision point until the whole burst is there."""

    parties: int
    wait: bool
    armed: bool = False
    arrived: int = 0
    verifies: list[tuple[str | None, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)
    _barrier: threading.Barrier | None = None

    def arm(self) -> None:
        self._barrier = threading.Barrier(self.parties, timeout=30) if self.wait else None
        self.armed = True

    def record(self, stored_hash: str | None, secret: str) -> None:
        if self.armed:
            with self._lock:
                self.verifies.append((stored_hash, secret))

    def reach(self) -> None:
        if not self.armed or getattr(self._local, "passed", False):
            return
        self._local.passed = True
        with self._lock:
            self.arrived += 1
        if self._barrier is not None:
            self._barrier.wait()

    def until_arrived(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.arrived < n:
            assert time.monotonic() < deadline, f"only {self.arrived} of {n} requests arrived"
            time.sleep(0.005)


class GatedHasher(SecretHasher):
    """The fast test hasher, recording each verify and passing the gate first."""

    def __init__(self, gate: Gate) -> None:
        super().__init__(time_cost=1, memory_kib=8, parallelism=1)
        self.gate = gate

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        self.gate.record(stored_hash, secret)
        self.gate.reach()
        return super().verify(stored_hash, secret)

    def checked_against(self, right_secret: str) -> int:
        """How many verifies were made against the hash the right secret opens."""
        plain = SecretHasher.verify
        targets = {
            h for h, _ in self.gate.verifies if h is not None and plain(self, h, right_secret)
        }
        return sum(1 for h, _ in self.gate.verifies if h in targets)


@dataclass
class Deployment:
    runtime: Runtime
    app: Flask
    clock: FrozenClock
    gate: Gate
    hasher: GatedHasher

    def session(self) -> Session:
        return self.runtime.session_factory()


@contextmanager
def deployment(
    backend: str, database_url: str, tmp_path: Path, keyring: KeyRing
) -> Iterator[Deployment]:
    """The app and its runtime on ``database_url`` (one of ``committed_db``), frozen clock."""
    engine = make_engine(database_url, pool_size=2 * BURST)
    gate = Gate(parties=BURST, wait=backend == "postgresql")
    hasher = GatedHasher(gate)
    clock = FrozenClock()
    settings = make_settings(tmp_path, database_url, keyring)
    runtime = build_runtime(settings, clock=clock, engine=engine, keyring=keyring, hasher=hasher)
    try:
        yield Deployment(runtime, create_app(settings, runtime=runtime), clock, gate, hasher)
    finally:
        engine.dispose()
