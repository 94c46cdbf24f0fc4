"""Push notifications: a small interface, a recording fake, and the one neutral text.

Whatever leaves the server for a phone can be read by whoever holds the phone, so the push
text never names the service, an advocate, or abuse, and carries no message content.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from auth.survivors import decoys
from core.errors import ConfigurationError
from core.jobs import JobContext
from core.settings import Settings

NEUTRAL_TEXT = "You have a new update"
PUSH_JOB = "messaging.push"


class PushSender(Protocol):
    def send(self, survivor_id: uuid.UUID, text: str) -> None:
        """Notify the survivor's devices with ``text``."""
        ...


@dataclass
class RecordingPushSender:
    """The fake (and, until a real provider is wired, the default): records what was sent."""

    sent: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, survivor_id: uuid.UUID, text: str) -> None:
        with self._lock:
            self.sent.append((survivor_id, text))


def push_from_settings(settings: Settings) -> PushSender:
    if settings.push_backend == "fake":
        return RecordingPushSender()
    raise ConfigurationError("LANTERN_PUSH_BACKEND must be fake")


def push_job(ctx: JobContext, payload: dict[str, Any], *, sender: PushSender) -> None:
    """``messaging.push``: one neutral notification to a survivor (never to a decoy account)."""
    survivor_id = uuid.UUID(payload["survivor_id"])
    if decoys.is_decoy_account(ctx.session, survivor_id):
        return
    sender.send(survivor_id, NEUTRAL_TEXT)
