"""Passwords, PINs, recovery codes and other low-entropy secrets: argon2id, never weaker than
OWASP's floor in production. (High-entropy tokens are stored as SHA-256: ``token_digest``.)"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import ConfigurationError
from core.settings import Settings

# OWASP Password Storage Cheat Sheet floor for argon2id: m=19 MiB, t=2, p=1.
OWASP_ARGON2_MIN_MEMORY_KIB = 19_456
OWASP_ARGON2_MIN_TIME_COST = 2


class SecretHasher:
    """argon2id for passwords, PINs and recovery codes; also the dummy hash for unknown users."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the account does not exist, so that unknown and known users
        # cost the same time.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretHasher:
        if settings.is_production and (
            settings.argon2_memory_kib < OWASP_ARGON2_MIN_MEMORY_KIB
            or settings.argon2_time_cost < OWASP_ARGON2_MIN_TIME_COST
        ):
            raise ConfigurationError("argon2 parameters are below OWASP's minimum")
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """True when ``secret`` matches; with no stored hash, burns the same time and fails."""
        if stored_hash is None:
            self._verify(self._dummy, secret)
            return False
        return self._verify(stored_hash, secret)

    def _verify(self, stored_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
