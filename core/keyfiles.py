"""Where the key ring comes from: environment values, a keys file, or (development only) a
generated file under ``instance/`` (extended, loudly, when an older Lantern wrote it); and how
keys files are written. The algorithms stay in ``core.crypto``."""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
from dataclasses import replace
from pathlib import Path

from core.crypto import EvidenceKey, KeyRing, b64decode, b64encode
from core.errors import ConfigurationError
from core.settings import Settings

log = logging.getLogger(__name__)


def _decode_key(text: str, what: str) -> bytes:
    # The message names the setting only: a key (even a malformed one) is never echoed.
    try:
        return b64decode(text.strip())
    except ValueError:
        raise ConfigurationError(f"{what} is not valid base64url") from None


def _parse_pairs(text: str, setting: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(","):
        kid, sep, value = part.strip().partition(":")
        if not sep:
            raise ConfigurationError(f"{setting} must look like id:base64url,id:base64url")
        pairs.append((kid, value))
    return pairs


def parse_keks(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        (kid, _decode_key(key, "a key in LANTERN_KEKS"))
        for kid, key in _parse_pairs(text, "LANTERN_KEKS")
    )


def parse_audit_keys(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        (kid, _decode_key(key, "a key in LANTERN_AUDIT_KEYS"))
        for kid, key in _parse_pairs(text, "LANTERN_AUDIT_KEYS")
    )


def parse_evidence_keys(text: str) -> tuple[EvidenceKey, ...]:
    """``id:base64url`` (a private key) or ``id:public:base64url`` (a retired key's public half)."""
    keys = []
    for kid, value in _parse_pairs(text, "LANTERN_EVIDENCE_KEYS"):
        kind, sep, public = value.partition(":")
        if sep and kind == "public":
            keys.append(EvidenceKey(kid, _decode_key(public, "a key in LANTERN_EVIDENCE_KEYS")))
        else:
            private = _decode_key(value, "a key in LANTERN_EVIDENCE_KEYS")
            keys.append(EvidenceKey.from_private(kid, private))
    return tuple(keys)


def environment_values(ring: KeyRing) -> dict[str, str]:
    """The settings (field name -> value) that hand ``ring`` to a process through LANTERN_*."""
    evidence = [
        f"{k.key_id}:{b64encode(k.private)}"
        if k.private is not None
        else f"{k.key_id}:public:{b64encode(k.public)}"
        for k in ring.evidence_keys
    ]
    return {
        "keks": ",".join(f"{kid}:{b64encode(key)}" for kid, key in ring.keks),
        "index_key": b64encode(ring.index_key),
        "audit_keys": ",".join(f"{kid}:{b64encode(key)}" for kid, key in ring.audit_keys),
        "evidence_keys": ",".join(evidence),
    }


def development_keys_path(settings: Settings) -> Path:
    return Path(settings.instance_path) / "dev-keys.json"


def load_keyring(settings: Settings) -> KeyRing:
    """The key ring from env, a keys file, or (development only) a generated dev file."""
    ring = _with_environment_overrides(_configured_or_development_ring(settings), settings)
    missing = ring.missing()
    if missing:
        # Refused in every mode, not only production: an audit log nobody can key, or an
        # export nobody signed, must never be produced quietly.
        raise ConfigurationError(
            "missing keys: set "
            + " and ".join(missing)
            + ", or add them to the keys file with `lantern keys rotate --audit --evidence`"
        )
    return ring


def _configured_or_development_ring(settings: Settings) -> KeyRing:
    if settings.keks and settings.index_key:
        return KeyRing(
            keks=parse_keks(settings.keks),
            index_key=_decode_key(settings.index_key, "LANTERN_INDEX_KEY"),
        )
    if settings.keks or settings.index_key:
        # Half a key ring in the environment is a mistake; falling back to other keys would
        # encrypt new data under keys the operator did not mean to use.
        raise ConfigurationError("set both LANTERN_KEKS and LANTERN_INDEX_KEY, or neither")
    if settings.keys_file:
        path = Path(settings.keys_file)
        if not path.exists():
            raise ConfigurationError("LANTERN_KEYS_FILE does not exist")
        return KeyRing.from_json(path.read_text())
    if settings.is_production:
        raise ConfigurationError("production needs real keys, not generated development keys")
    return _development_ring(settings)


def _with_environment_overrides(ring: KeyRing, settings: Settings) -> KeyRing:
    if settings.audit_keys:
        ring = replace(ring, audit_keys=parse_audit_keys(settings.audit_keys))
    if settings.evidence_keys:
        ring = replace(ring, evidence_keys=parse_evidence_keys(settings.evidence_keys))
    return ring


def _development_ring(settings: Settings) -> KeyRing:
    path = development_keys_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Exclusive: when an app and a worker start together, both must end up with the same
        # keys, not each with the one it generated.
        if write_keys_file(path, KeyRing.generate(), exclusive=True):
            log.warning(
                "generated DEVELOPMENT keys; never use them for real survivors",
                extra={"event": "dev_keys_generated"},
            )
    ring = KeyRing.from_json(path.read_text())
    return _extend_development_keys(path) if ring.missing() else ring


def _extend_development_keys(path: Path) -> KeyRing:
    """Add the kinds of key a development keys file written by an older Lantern lacks."""
    # Under a lock, re-reading first: an app and a worker starting together on an old file
    # must both end up with the one audit key and signing key that were written, or the
    # events one of them keys could never be verified.
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        ring = KeyRing.from_json(path.read_text())
        missing = ring.missing()
        if missing:
            ring = ring.with_missing_keys()
            write_keys_file(path, ring)
            log.warning(
                "added keys to the DEVELOPMENT keys file written by an older Lantern; never "
                "use them for real survivors",
                extra={"event": "dev_keys_extended", "added": list(missing)},
            )
        return ring
    finally:
        os.close(fd)  # closing releases the lock


def write_keys_file(path: Path, ring: KeyRing, *, exclusive: bool = False) -> bool:
    """Write a keys file readable by its owner only, atomically and durably.

    With ``exclusive``, an existing file wins and False is returned.
    """
    # A private temporary name created with O_EXCL: a stale or planted temporary file can
    # neither be reused with looser permissions nor raced by a second writer.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(ring.to_json())
            fh.flush()
            # The new primary KEK must be on disk before any data key is wrapped under it:
            # a keys file lost to a crash after `keys rotate` would lose every survivor's data.
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True
