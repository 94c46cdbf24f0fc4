"""The hooks the SMS outbox and Twilio's webhooks call in other domains (check-ins listen).

Each is a ``core.hooks.Hook`` whose listeners the composition root (``api/wiring.py``)
registers by name; the contracts are in ``sending.py`` (a text failed for good) and in
``webhooks.py`` (an inbound text to route, or to claim for one holder of a shared number).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.orm import Session

from core.clock import Clock


class SmsFailureListener(Protocol):
    """A text whose purpose is in ``sending.FAILURE_HOOK_PURPOSES`` failed for good; called once
    per text inside the transaction that records the failure, and must not commit."""

    def __call__(
        self,
        session: Session,
        clock: Clock,
        outbound_id: uuid.UUID,
        purpose: str,
        reference_id: uuid.UUID | None,
        /,
    ) -> None: ...


class InboundSmsRouter(Protocol):
    """Handle a survivor's inbound text (True: handled, and it goes nowhere else); must not
    commit, and must not raise for a body it does not recognise."""

    def __call__(
        self, session: Session, clock: Clock, survivor_id: uuid.UUID, body: str, /
    ) -> bool: ...


class InboundSmsClaim(Protocol):
    """What ``body`` is to ``survivor_id`` ("help", "safe"...) when it is one of her own reply
    codes, else None: how a text from a shared number is attributed to one holder."""

    def __call__(self, session: Session, survivor_id: uuid.UUID, body: str, /) -> str | None: ...
