"""The audit chain's keys: HMAC-SHA256 links under an audit key kept outside the database, and
checkpoints under a key derived (HKDF) from it, so that a checkpoint can never pass for a chain
link, nor a link for a checkpoint."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from core.crypto.primitives import derive_key
from core.errors import ConfigurationError

AUDIT_MAC_ALGORITHM = "HMAC-SHA256"
AUDIT_CHECKPOINT_PURPOSE = "audit-checkpoint"


@dataclass(frozen=True)
class AuditChainKeys:
    """The audit chain's HMAC keys (primary first), and nothing else of the key ring."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    # One keyed HMAC state per key, copied for each event: keying HMAC anew for every event
    # would cost more than the hash itself, and the chain is appended while the head is locked.
    _keyed: dict[str, Any] = field(init=False, repr=False, compare=False)

    _checkpoint_keyed: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keyed = {kid: hmac.new(key, digestmod=hashlib.sha256) for kid, key in self.keys}
        object.__setattr__(self, "_keyed", keyed)
        checkpoint_keyed = {
            kid: hmac.new(derive_key(key, AUDIT_CHECKPOINT_PURPOSE), digestmod=hashlib.sha256)
            for kid, key in self.keys
        }
        object.__setattr__(self, "_checkpoint_keyed", checkpoint_keyed)

    def __repr__(self) -> str:
        return f"AuditChainKeys(ids={[kid for kid, _ in self.keys]!r})"

    @property
    def primary_id(self) -> str:
        if not self.keys:
            raise ConfigurationError("no audit key is configured (LANTERN_AUDIT_KEYS)")
        return self.keys[0][0]

    def mac(self, key_id: str, data: bytes) -> str | None:
        """HMAC-SHA256 of ``data`` under key ``key_id``, hex (the width of the old SHA-256
        links); None when no key has that id."""
        return _keyed_hex(self._keyed.get(key_id), data)

    def checkpoint_mac(self, key_id: str, data: bytes) -> str | None:
        """HMAC-SHA256 of a checkpoint under the key derived from audit key ``key_id``, hex;
        None when no key has that id."""
        return _keyed_hex(self._checkpoint_keyed.get(key_id), data)


def _keyed_hex(keyed: Any, data: bytes) -> str | None:
    if keyed is None:
        return None
    state = keyed.copy()
    state.update(data)
    digest: str = state.hexdigest()
    return digest
