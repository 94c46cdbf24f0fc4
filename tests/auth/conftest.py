"""Fixtures of the identity and access tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.crypto import KeyRing
from tests.auth import deployment as deployments


@pytest.fixture
def deployment(
    backend: str, committed_db: str, tmp_path: Path, keyring: KeyRing
) -> Iterator[deployments.Deployment]:
    """The app on a committed database of this test's own (see ``tests.auth.deployment``)."""
    with deployments.deployment(backend, committed_db, tmp_path, keyring) as d:
        yield d
