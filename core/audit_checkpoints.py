"""Checkpoints of the verified audit log, kept outside the database.

Keyed links stop someone who can write to the database from rewriting an event, but not from
deleting the newest events and moving the head row back to the last one kept, or from emptying
the log: what is left is a valid chain, and nothing in the database can tell. Only a record
kept elsewhere can. So each successful verification appends the head it verified (sequence
number, chain hash, time, audit key id) to a file outside the database, with an HMAC under a
key derived from the audit key (``core.crypto``), and every verification checks the log against
every checkpoint: the head may not be behind one, the event at a checkpoint's sequence must
still have its hash, and each checkpoint's HMAC must hold.

The file proves no more than its storage does: whoever can rewrite it can drop a checkpoint and
then cut the log. Keep it off the database host, in write-once or append-only storage
(``chattr +a``, an object lock, a log host), shared by every process that verifies.

Several workers and ``lantern audit verify`` may append at once: each appends one whole line
under an exclusive ``flock`` and syncs it to disk; readers take a shared lock, so they never
see half a line.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.crypto import AuditChainKeys, constant_time_equals
from core.settings import Settings

FORMAT = "lantern-audit-checkpoint/1"
_FIELDS = frozenset({"format", "seq", "hash", "at", "key_id", "mac"})
_HEX64 = re.compile("[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    """A verified head of the audit log: event ``seq`` had link ``hash`` at ``at``."""

    seq: int
    hash: str
    at: dt.datetime
    key_id: str
    line: int = 0  # in the file, from 1, for messages; 0 for one just written

    def describe(self) -> str:
        return f"checkpoint {self.line} ({self.at.isoformat(timespec='seconds')})"


class CheckpointForged(Exception):
    """A line of the checkpoint file that Lantern did not write as it stands."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"audit checkpoint {line} {reason}")
        self.line = line


def _message(seq: int, chain_hash: str, at: str, key_id: str) -> bytes:
    fields = {"format": FORMAT, "seq": seq, "hash": chain_hash, "at": at, "key_id": key_id}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


class CheckpointLog:
    """The append-only checkpoint file at ``path``; ``clock`` dates new checkpoints."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock

    def __repr__(self) -> str:
        return f"CheckpointLog({str(self.path)!r})"

    @staticmethod
    def path_for(settings: Settings) -> Path:
        if settings.audit_checkpoints_path:
            return Path(settings.audit_checkpoints_path)
        return Path(settings.instance_path) / "audit-checkpoints.jsonl"

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> CheckpointLog:
        return cls(cls.path_for(settings), clock)

    def read(self, keys: AuditChainKeys) -> list[Checkpoint]:
        """Every checkpoint, in file order; ``CheckpointForged`` at the first that does not
        authenticate. No file yet means no checkpoint yet."""
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            return []
        with fh:  # closing releases the lock
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            data = fh.read()
        lines = data.split(b"\n")
        if lines[-1]:
            # Every append ends its line: a last line without an end was cut, or is an edit.
            raise CheckpointForged(len(lines), "is incomplete")
        return [_parse(raw, keys, n) for n, raw in enumerate(lines[:-1], start=1)]

    def append(self, keys: AuditChainKeys, seq: int, chain_hash: str) -> Checkpoint:
        """Add a checkpoint of a verified head, durably, under the primary audit key."""
        key_id = keys.primary_id
        at = self.clock.now().astimezone(dt.UTC)
        stamp = at.isoformat()
        mac = keys.checkpoint_mac(key_id, _message(seq, chain_hash, stamp, key_id))
        record = {
            "format": FORMAT,
            "seq": seq,
            "hash": chain_hash,
            "at": stamp,
            "key_id": key_id,
            "mac": mac,
        }
        line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        # O_APPEND: every write lands at the end as it is now, whoever else has the file
        # open; append-only storage (chattr +a) refuses any other mode.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _sync_directory(self.path.parent)
        return Checkpoint(seq, chain_hash, at, key_id)


def _sync_directory(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _parse(raw: bytes, keys: AuditChainKeys, line: int) -> Checkpoint:
    try:
        record: Any = json.loads(raw)
        if not isinstance(record, dict) or set(record) != _FIELDS:
            raise ValueError
        seq, chain_hash, stamp = record["seq"], record["hash"], record["at"]
        key_id, mac = record["key_id"], record["mac"]
        if record["format"] != FORMAT or not isinstance(stamp, str) or not isinstance(key_id, str):
            raise ValueError
        if not all(isinstance(v, str) and _HEX64.fullmatch(v) for v in (chain_hash, mac)):
            raise ValueError
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError
        at = dt.datetime.fromisoformat(stamp)
    except (ValueError, RecursionError):
        raise CheckpointForged(line, "is not a checkpoint Lantern wrote") from None
    expected = keys.checkpoint_mac(key_id, _message(seq, chain_hash, stamp, key_id))
    if expected is None:
        raise CheckpointForged(line, f"is keyed with audit key {key_id!r}, which is not configured")
    if not constant_time_equals(expected, mac):
        raise CheckpointForged(line, "has been altered (its HMAC does not match)")
    return Checkpoint(seq, chain_hash, at, key_id, line)


class Witness:
    """What the checkpoints say the log must hold."""

    def __init__(self, checkpoints: list[Checkpoint]) -> None:
        self._by_seq: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self._by_seq.setdefault(checkpoint.seq, []).append(checkpoint)
        self.newest = max(checkpoints, key=lambda c: c.seq, default=None)

    def event_problem(self, seq: int, chain_hash: str) -> str | None:
        """Why event ``seq`` with link ``chain_hash`` contradicts a checkpoint, if it does."""
        for checkpoint in self._by_seq.get(seq, ()):
            if not constant_time_equals(checkpoint.hash, chain_hash):
                return f"event differs from {checkpoint.describe()}"
        return None

    def head_problem(self, head_seq: int) -> str | None:
        """Why a log that ends at event ``head_seq`` (0: empty) was cut short, if it was."""
        newest = self.newest
        if newest is None or newest.seq <= head_seq:
            return None
        if head_seq == 0:
            return f"the log is empty, but {newest.describe()} saw event {newest.seq}"
        return (
            f"newest events missing: the log ends at event {head_seq}, but "
            f"{newest.describe()} saw event {newest.seq}"
        )
