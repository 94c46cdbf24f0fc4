"""What coordination services need besides a session and a clock, built once per process."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from coordination.urls import Resolver
from coordination.webhooks_http import WebhookSender
from core.crypto import Binding, KeyRing
from core.settings import Settings
from core.vault import Vault

EXTENSION_KEY = "coordination"


@dataclass
class CoordinationDeps:
    settings: Settings
    keyring: KeyRing
    vault: Vault
    sender: WebhookSender
    # getaddrinfo by default; tests pass a fake (DNS answers are part of the SSRF story).
    resolver: Resolver = socket.getaddrinfo

    def seal_json(self, session: Session, binding: Binding, value: Any) -> bytes:
        return self.vault.seal(session, binding, json.dumps(value, sort_keys=True))

    def open_json(self, session: Session, binding: Binding, ciphertext: bytes) -> Any:
        return json.loads(self.vault.open_text(session, binding, ciphertext))


def deps_from(mapping: Any) -> CoordinationDeps:
    """The coordination collaborators from ``runtime.extensions`` (or a job's ``ctx.deps``)."""
    deps = mapping[EXTENSION_KEY]
    if not isinstance(deps, CoordinationDeps):  # pragma: no cover - a wiring mistake
        raise TypeError("runtime.extensions['coordination'] is not CoordinationDeps")
    return deps
