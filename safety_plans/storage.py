"""Where attachment blobs live: a small interface, a local directory by default.

Blobs are already encrypted when they arrive here (safety_plans.journal seals them), so a
storage backend never sees a survivor's photo or recording in clear, and a blob's name is the
attachment's random id, never anything derived from its content or owner.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from core.settings import Settings

_NAME = re.compile(r"^[0-9a-f]{32}$")


class AttachmentStorage(Protocol):
    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes | None: ...

    def delete(self, name: str) -> None: ...

    def names_older_than(self, cutoff: dt.datetime) -> Iterator[str]:
        """Every blob written before ``cutoff`` (the sweep checks each against its row)."""
        ...


class LocalStorage:
    """One file per blob in a directory only the service user can read."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):  # names are uuid hex: no path tricks are possible
            raise ValueError("invalid blob name")
        return self.root / name[:2] / name

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, name: str) -> bytes | None:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names_older_than(self, cutoff: dt.datetime) -> Iterator[str]:
        """Blobs last written before ``cutoff`` (by their file times); a partial write left
        by a crash that old is removed on the way."""
        if not self.root.is_dir():
            return
        before = cutoff.timestamp()
        for folder in os.scandir(self.root):
            if not folder.is_dir(follow_symlinks=False):
                continue
            for entry in os.scandir(folder.path):
                if not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat(follow_symlinks=False).st_mtime >= before:
                    continue
                if _NAME.match(entry.name):
                    yield entry.name
                elif entry.name.endswith(".tmp") and _NAME.match(entry.name[:-4]):
                    Path(entry.path).unlink(missing_ok=True)


def storage_from_settings(settings: Settings) -> AttachmentStorage:
    root = settings.attachments_path or str(Path(settings.instance_path) / "attachments")
    return LocalStorage(root)
