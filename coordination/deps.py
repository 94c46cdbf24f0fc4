"""What coordination services need besides a session and a clock, built once per process."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from coordination.urls import Resolver, parse_allowlist
from coordination.webhooks_http import WebhookSender, sender_from_settings
from core.crypto import Binding, KeyRing
from core.settings import Settings
from core.vault import Vault


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

    @classmethod
    def from_settings(cls, settings: Settings, keyring: KeyRing, vault: Vault) -> CoordinationDeps:
        """The collaborators for this process (built by the composition root from its runtime),
        the webhook sender chosen by settings. A malformed webhook allowlist entry stops the
        start."""
        parse_allowlist(settings.webhook_allowlist)
        return cls(
            settings=settings,
            keyring=keyring,
            vault=vault,
            sender=sender_from_settings(settings.webhook_sender),
        )
