"""Object identifiers: random, never sequential, so ids reveal neither count nor order."""

from __future__ import annotations

import uuid


def new_id() -> uuid.UUID:
    return uuid.uuid4()
