"""Failure throttling with growing delays, in flask-limiter's storage (``limits``).

In-process memory by default; Redis when ``LANTERN_REDIS_URL`` is set, so that several app
processes share one count. Keys are opaque digests (never an email, PIN or address in clear).

After ``free_failures`` failures a key must wait 2, 4, 8 ... seconds (capped at
``max_delay``) before its next attempt is even checked; after ``hourly_cap`` failures in an
hour it is refused until the hour is over. A refused attempt answers exactly like a wrong
credential, so the caller learns nothing from being throttled.
"""

from __future__ import annotations

import time

from limits.storage import Storage, storage_from_string

from core.crypto import sha256_hex


class Throttle:
    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        namespace: str = "lantern",
        free_failures: int = 3,
        max_delay: float = 900.0,
        hourly_cap: int = 100,
    ) -> None:
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):
            raise TypeError("an asynchronous storage cannot throttle synchronous requests")
        self.storage = storage
        self.namespace = namespace
        self.free_failures = free_failures
        self.max_delay = max_delay
        self.hourly_cap = hourly_cap

    def _key(self, kind: str, key: str) -> str:
        return f"{self.namespace}:{kind}:{sha256_hex(key.encode())[:32]}"

    def failures(self, key: str) -> int:
        return int(self.storage.get(self._key("fail", key)))

    def retry_after(self, key: str) -> float:
        """Seconds before ``key`` may try again; 0 when it may try now."""
        failures = self.failures(key)
        if failures >= self.hourly_cap:
            return max(0.0, self.storage.get_expiry(self._key("fail", key)) - time.time())
        lock = self._key("lock", key)
        if self.storage.get(lock) > 0:
            return max(0.0, self.storage.get_expiry(lock) - time.time())
        return 0.0

    def delay_after(self, failures: int) -> float:
        if failures <= self.free_failures:
            return 0.0
        return float(min(self.max_delay, 2 ** (failures - self.free_failures)))

    def record_failure(self, key: str) -> int:
        """Count a failure and start the growing delay; returns the failures this hour."""
        failures = self.storage.incr(self._key("fail", key), 3600)
        delay = self.delay_after(failures)
        if delay > 0:
            lock = self._key("lock", key)
            self.storage.clear(lock)
            self.storage.incr(lock, max(1, int(delay)))
        return failures

    def reset(self, key: str) -> None:
        self.storage.clear(self._key("fail", key))
        self.storage.clear(self._key("lock", key))


def throttle_from_settings(redis_url: str) -> Throttle:
    return Throttle(redis_url or "memory://")
