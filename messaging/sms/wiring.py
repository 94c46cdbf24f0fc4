"""How the SMS outbox plugs into a process: its send and redaction jobs, bound to the gateway
and hooks the composition root (``api/wiring.py``) built into ``SmsDeps``."""

from __future__ import annotations

from functools import partial

from core.jobs import JobRegistry
from messaging.sms import dispatch
from messaging.sms.deps import SmsDeps
from messaging.sms.sending import REDACT_JOB, SEND_JOB, SEND_MAX_ATTEMPTS


def register_jobs(registry: JobRegistry, deps: SmsDeps) -> None:
    """The outbox's send and redaction jobs, bound to its gateway and hooks."""
    registry.register(
        SEND_JOB,
        partial(dispatch.send_job, deps=deps),
        max_attempts=SEND_MAX_ATTEMPTS,
    )
    registry.register(
        REDACT_JOB,
        partial(dispatch.redact_job, gateway=deps.gateway),
        max_attempts=SEND_MAX_ATTEMPTS,
    )
