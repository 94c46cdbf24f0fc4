"""The building blocks the rest of ``core.crypto`` shares: key size, base64url, randomness,
SHA-256 digests, constant-time comparison, HKDF purpose keys and key ids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ConfigurationError

KEY_BYTES = 32
_MAX_KEK_ID = 64


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token of ``nbytes`` bytes (at least 16: >= 128 bits)."""
    if nbytes < 16:
        raise ValueError("tokens must carry at least 128 bits")
    return secrets.token_urlsafe(nbytes)


def random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def token_digest(token: str) -> str:
    """How a high-entropy token is stored: its SHA-256, hex. (Low-entropy secrets use argon2.)"""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode("utf-8")
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hmac.compare_digest(a, b)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_items(items: Iterable[tuple[str, object]] | Mapping[str, object]) -> str:
    """SHA-256 over a canonical JSON form: consent receipts, hash chains."""
    data = dict(items)
    return sha256_hex(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode())


def derive_key(key: bytes, purpose: str) -> bytes:
    """A key for one purpose, derived from ``key`` by HKDF-SHA256 (``lantern|purpose``)."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"lantern|" + purpose.encode()
    )
    return hkdf.derive(key)


def check_key_id(kid: str) -> None:
    if not kid or len(kid.encode()) > _MAX_KEK_ID or ":" in kid or "," in kid:
        raise ConfigurationError("a key id must be 1-64 plain characters")


def new_key_id(prefix: str) -> str:
    return prefix + secrets.token_hex(4)
