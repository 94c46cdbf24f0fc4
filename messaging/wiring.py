"""How conversations plug into a process: the push job, bound to the push sender the
composition root (``api/wiring.py``) chose, and the expiry of messages. The SMS outbox and
check-ins have their own (``messaging.sms.wiring``, ``messaging.checkins.wiring``)."""

from __future__ import annotations

from functools import partial

from core.jobs import JobRegistry
from messaging import conversations, push
from messaging.push import PushSender


def register_jobs(registry: JobRegistry, sender: PushSender) -> None:
    """A neutral push to a survivor, and the minute's expiry of messages and stale statuses."""
    registry.register(push.PUSH_JOB, partial(push.push_job, sender=sender), max_attempts=5)
    registry.register(conversations.EXPIRE_JOB, conversations.expire_job, every_seconds=60)
