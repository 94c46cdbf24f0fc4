"""Where the key ring comes from: environment values, a keys file, or (development only) a
generated file under ``instance/``; and how keys files are written. The algorithms stay in
``core.crypto``."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from core.crypto import KeyRing, b64decode
from core.errors import ConfigurationError
from core.settings import Settings

log = logging.getLogger(__name__)


def _decode_key(text: str, what: str) -> bytes:
    # The message names the setting only: a key (even a malformed one) is never echoed.
    try:
        return b64decode(text.strip())
    except ValueError:
        raise ConfigurationError(f"{what} is not valid base64url") from None


def parse_keks(text: str) -> tuple[tuple[str, bytes], ...]:
    pairs = []
    for part in text.split(","):
        kid, sep, key = part.strip().partition(":")
        if not sep:
            raise ConfigurationError("LANTERN_KEKS must look like id:base64url,id:base64url")
        pairs.append((kid, _decode_key(key, "a key in LANTERN_KEKS")))
    return tuple(pairs)


def development_keys_path(settings: Settings) -> Path:
    return Path(settings.instance_path) / "dev-keys.json"


def load_keyring(settings: Settings) -> KeyRing:
    """The key ring from env, a keys file, or (development only) a generated dev file."""
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
    return KeyRing.from_json(path.read_text())


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
