"""The periodic audit-chain verification: verify the log, checkpoint it, raise the alarm.

Every hour a worker walks the whole audit log (``audit.verify``) and, when it is intact, adds its
head to the checkpoint file outside the database. An hour bounds how long a cut can go
unwitnessed (events deleted after the last checkpoint, with the head moved back, cannot be
found by anyone), at the cost of one walk of the log an hour; ``lantern audit verify`` adds a
checkpoint whenever an operator runs it.

A break is logged as an error (sequence numbers and the reason only: an audit event names
people, the log line must not) and every active admin gets an urgent staff notice, once per
break while it stays unread. The job itself succeeds: trying again would not mend the log, and
the next run checks again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.jobs import JobContext, JobRegistry
from core.notices import StaffNotice, notify_staff
from core.settings import Settings

log = logging.getLogger(__name__)

VERIFY_JOB = "core.audit_verify"
VERIFY_EVERY_SECONDS = 3600.0
NOTICE_KIND = "audit_chain_broken"

#: Who is told of a break: the active admins (a domain knows who they are; core does not).
AdminLookup = Callable[[Session], Iterable[uuid.UUID]]


def register_jobs(registry: JobRegistry, settings: Settings, admins: AdminLookup) -> None:
    """The hourly verification, with the admins to tell of a break."""
    unkeyed_events = settings.audit_unkeyed_events

    def handler(ctx: JobContext, payload: dict[str, Any]) -> None:
        verify_and_report(ctx, admins, unkeyed_events)

    registry.register(VERIFY_JOB, handler, every_seconds=VERIFY_EVERY_SECONDS)


def verify_and_report(ctx: JobContext, admins: AdminLookup, unkeyed_events: int = 0) -> None:
    """Verify the audit log (checkpointing it when intact); on a break, log and tell admins."""
    # ctx.checkpoint commits and renews the lease between batches: a long log takes longer to
    # walk than a lease lasts, and another worker must not start the same walk meanwhile.
    result = audit.verify(ctx.session, unkeyed_events=unkeyed_events, on_batch=ctx.checkpoint)
    if result.ok:
        return
    details = {"first_broken_seq": result.first_broken_seq, "reason": result.reason}
    log.error(
        "audit chain broken",
        extra={"event": "audit_chain_broken", "checked": result.checked, **details},
    )
    recipients = set(admins(ctx.session))
    told = {
        notice.recipient_id
        for notice in ctx.session.scalars(
            select(StaffNotice).where(
                StaffNotice.kind == NOTICE_KIND,
                StaffNotice.read_at.is_(None),
                StaffNotice.recipient_id.in_(recipients),
            )
        )
        if notice.details == details
    }
    notify_staff(
        ctx.session,
        ctx.clock,
        sorted(recipients - told),
        NOTICE_KIND,
        urgency="urgent",
        details=details,
    )
