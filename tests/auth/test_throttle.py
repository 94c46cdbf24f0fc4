"""The failure throttle: growing delays, the hourly cap, and Redis shared between processes."""

from __future__ import annotations

import socket
import uuid

import pytest

from auth.throttle import Throttle

REDIS = "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def test_delays_grow_after_the_free_failures_and_reset_clears_them() -> None:
    t = Throttle("memory://", namespace=f"t-{uuid.uuid4().hex}", free_failures=3)
    key = "staff:someone"
    for _ in range(3):
        assert t.retry_after(key) == 0
        t.record_failure(key)
    assert t.retry_after(key) == 0  # three failures are free
    t.record_failure(key)
    first = t.retry_after(key)
    t.record_failure(key)
    second = t.retry_after(key)
    assert 0 < first <= 2
    assert first < second <= 4
    t.reset(key)
    assert t.retry_after(key) == 0
    assert t.failures(key) == 0


def test_hourly_cap_refuses_until_the_hour_is_over() -> None:
    t = Throttle("memory://", namespace=f"t-{uuid.uuid4().hex}", free_failures=1000, hourly_cap=5)
    for _ in range(5):
        t.record_failure("k")
    assert 3500 < t.retry_after("k") <= 3600


def test_keys_are_stored_digested_not_in_clear() -> None:
    t = Throttle("memory://", namespace="t-clear")
    t.record_failure("staff:person@example.org")
    stored = " ".join(map(str, t.storage.storage.keys()))  # type: ignore[attr-defined]
    assert "person@example.org" not in stored


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379 (CI runs one)")
def test_redis_storage_is_shared_by_every_process() -> None:
    namespace = f"t-{uuid.uuid4().hex}"
    app_a = Throttle(REDIS, namespace=namespace, free_failures=1)
    app_b = Throttle(REDIS, namespace=namespace, free_failures=1)
    try:
        app_a.record_failure("survivor:x")
        app_b.record_failure("survivor:x")
        # Failures counted in one process lock the key in the other.
        assert app_a.failures("survivor:x") == 2
        assert app_b.retry_after("survivor:x") > 0
    finally:
        app_a.reset("survivor:x")
