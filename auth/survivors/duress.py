"""The duress alert: a durable job queued in the same transaction as a duress-PIN login.

The handler tells the survivor's advocates (an ``urgent`` staff notice of kind ``duress``;
the on-call supervisors when the survivor has no active advocate), then calls every duress
listener.

Listener contract (check-in escalation, partner alerts)
-----------------------------------------------------
Other domains act on a duress through the ``duress`` hook: a ``Hook[DuressListener]`` the
composition root (``api/wiring.py``) builds, registers each listener on under a stable name,
and binds to the alert job (``register_jobs``). A listener:

- runs inside the alert job's transaction (``ctx.session``; ``ctx.job.payload`` also holds
  ``device_id`` when the alert came from a decoy login): it should only write rows, typically
  enqueue its own durable job (``core.jobs.enqueue`` with a dedupe key), never call a network
  service directly;
- must not commit, and must tolerate being called again for the same alert (it is retried if it
  fails);
- is isolated: it runs in a savepoint, so a failing listener neither blocks the advocates'
  notice nor the other listeners. Its writes are rolled back and it alone is retried later by a
  ``survivor.duress_listener`` job, which stores the listener's registered name and finds it
  again by that name (a name no longer registered dead-letters the retry), with the worker's
  usual backoff and dead-lettering.

Secrecy: a decoy session must never be able to read any trace of a duress. So the duress is
audited against the device only (``subject_kind="survivor_device"``), with a system actor and
no ``survivor_id``: the survivor's own access log, which lists events by ``survivor_id``, never
shows it. Notices and jobs are staff/worker-only tables.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import advocates_of
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.hooks import Hook
from core.jobs import JobContext, JobRegistry, PermanentJobError, enqueue
from core.notices import notify_staff

log = logging.getLogger(__name__)

DURESS_ALERT = "survivor.duress_alert"
DURESS_LISTENER_RETRY = "survivor.duress_listener"
# One alert per 5 minutes at most when the duress PIN is typed at a locked account.
_REFUSED_BUCKET_SECONDS = 300


class DuressListener(Protocol):
    """Acts on a duress alert for ``survivor_id`` from inside its job (contract above)."""

    def __call__(self, ctx: JobContext, survivor_id: uuid.UUID, /) -> None: ...


def raise_duress_alert(
    session: Session, clock: Clock, survivor_id: uuid.UUID, device_id: uuid.UUID
) -> None:
    """Queue the alert for a decoy login (in the caller's transaction) and audit it secretly."""
    enqueue(
        session,
        clock,
        DURESS_ALERT,
        {"survivor_id": str(survivor_id), "device_id": str(device_id)},
        dedupe_key=f"duress:{device_id}",
        max_attempts=20,
    )
    audit.record(
        session,
        clock,
        audit.Actor.system(),
        "survivor.duress_login",
        subject_kind="survivor_device",
        subject_id=device_id,
    )


def enqueue_refused_duress_alert(session: Session, clock: Clock, survivor_id: uuid.UUID) -> None:
    """The duress PIN was typed while the account was locked: still alert, at most every 5 min."""
    bucket = int(clock.now().timestamp()) // _REFUSED_BUCKET_SECONDS
    enqueue(
        session,
        clock,
        DURESS_ALERT,
        {"survivor_id": str(survivor_id), "device_id": None},
        dedupe_key=f"duress:{survivor_id}:refused:{bucket}",
        max_attempts=20,
    )


def _recipients(session: Session, survivor_id: uuid.UUID) -> list[uuid.UUID]:
    advocates = advocates_of(session, survivor_id)
    if advocates:
        return advocates
    # Nobody on the caseload is active: an urgent alarm must still reach someone.
    return list(
        session.scalars(
            select(StaffMember.id).where(
                StaffMember.role == "supervisor", StaffMember.disabled_at.is_(None)
            )
        )
    )


def handle_duress_alert(
    ctx: JobContext, payload: dict[str, Any], *, listeners: Hook[DuressListener]
) -> None:
    """Notify the advocates, then run every duress listener (each isolated in a savepoint)."""
    survivor_id = uuid.UUID(payload["survivor_id"])
    survivor = ctx.session.get(Survivor, survivor_id)
    if survivor is None or survivor.erased_at is not None:
        return  # erased since: nobody left to protect, nothing to say
    device_id = payload.get("device_id")
    notify_staff(
        ctx.session,
        ctx.clock,
        _recipients(ctx.session, survivor_id),
        "duress",
        urgency="urgent",
        survivor_id=survivor_id,
        details={"device_id": device_id} if device_id else {"while_locked": True},
    )
    for name, listener in listeners.items():
        try:
            with ctx.session.begin_nested():
                listener(ctx, survivor_id)
        except Exception as exc:  # noqa: BLE001 - one listener must not silence the alarm
            log.warning(
                "duress listener failed",
                extra={
                    "event": "duress_listener_failed",
                    "listener": name,
                    "error": type(exc).__name__,
                },
            )
            enqueue(
                ctx.session,
                ctx.clock,
                DURESS_LISTENER_RETRY,
                {"survivor_id": str(survivor_id), "listener": name, "alert_job": str(ctx.job.id)},
                dedupe_key=f"duress-listener:{ctx.job.id}:{name}"[:200],
                max_attempts=20,
            )


def handle_listener_retry(
    ctx: JobContext, payload: dict[str, Any], *, listeners: Hook[DuressListener]
) -> None:
    """Run one duress listener again, found by its registered name; failures go through the
    worker's backoff."""
    survivor_id = uuid.UUID(payload["survivor_id"])
    survivor = ctx.session.get(Survivor, survivor_id)
    if survivor is None or survivor.erased_at is not None:
        return
    listener = listeners.get(payload["listener"])
    if listener is None:
        raise PermanentJobError("duress listener is no longer registered")
    listener(ctx, survivor_id)


def register_jobs(registry: JobRegistry, listeners: Hook[DuressListener]) -> None:
    """The duress job kinds, bound to the ``duress`` hook (from ``auth.wiring.register_jobs``)."""
    registry.register(
        DURESS_ALERT, partial(handle_duress_alert, listeners=listeners), max_attempts=20
    )
    registry.register(
        DURESS_LISTENER_RETRY, partial(handle_listener_retry, listeners=listeners), max_attempts=20
    )
