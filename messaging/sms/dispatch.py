"""Handing outbox SMS to the gateway: the ``sms.send`` job, and sending at once from a job.

At most once. Before a text is handed to the provider, the row's ``attempt_started_at`` is
committed (``JobContext.checkpoint``, which also frees the database connection while the call
waits). A try that finds the mark without a provider SID knows an earlier try died during the
call and the text may have gone, so it never sends again: the row fails as
``outcome_unknown``. A conversation message then shows as failed and the advocate can resend
it knowingly; a check-in keeps its dead-man timer, so silence still escalates. A transient
failure (5xx, 429, no connection) clears the mark, since the provider did not take the text,
and the outbox job tries again later. A read timeout is counted as transient too (Twilio's
Messages API takes no idempotency key), the one case left where a text could go twice.

``dispatch`` lets a job that queued texts (``queue_sms(..., send_job=False)``) send them
itself instead of leaving each to a second job: a burst of check-ins goes out fifty to a
transaction, the texts waiting on the provider side by side. Only a text that must be tried
again gets an ``sms.send`` job; a dispatching worker that dies is replaced by its own job's
retry, which finds each text sent, marked (outcome unknown) or still to send.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import crypto, jobs
from core.crypto import Binding
from core.errors import CryptoError
from core.jobs import JobContext
from core.vault import Vault
from messaging.models import OutboundSms
from messaging.sms.deps import SmsDeps
from messaging.sms.gateway import (
    MAX_CONCURRENT_SENDS,
    PermanentSmsError,
    SmsError,
    SmsGateway,
    TransientSmsError,
)
from messaging.sms.sending import (
    FAILED,
    QUEUED,
    STAFF_KEY_PURPOSE,
    STATUS_PATH,
    advance_status,
    apply_early_statuses,
    enqueue_send,
    opted_out,
    staff_binding,
)

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome_unknown"


def _open(vault: Vault, session: Session, row: OutboundSms) -> tuple[str, str]:
    if row.body_enc is None:
        raise ValueError("the message body is gone")
    if row.survivor_id is not None:
        to = vault.open_text(
            session, Binding("outbound_sms", "to_enc", row.id, row.survivor_id), row.to_enc
        )
        body = vault.open_text(
            session, Binding("outbound_sms", "body_enc", row.id, row.survivor_id), row.body_enc
        )
        return to, body
    assert row.staff_id is not None
    key = vault.ring.purpose_key(STAFF_KEY_PURPOSE)
    to_raw = crypto.open_with_key(key, staff_binding(row.id, "to_enc", row.staff_id), row.to_enc)
    body_raw = crypto.open_with_key(
        key, staff_binding(row.id, "body_enc", row.staff_id), row.body_enc
    )
    return to_raw.decode(), body_raw.decode()


def status_callback_url(public_base_url: str) -> str | None:
    if not public_base_url:
        return None  # development without a public URL: no callbacks
    return public_base_url.rstrip("/") + STATUS_PATH


def _send_one(
    gateway: SmsGateway, to: str, body: str, callback: str | None
) -> str | SmsError | None:
    """A SID, the gateway's refusal, or None when the outcome cannot be known."""
    try:
        return gateway.send(to, body, callback)
    except SmsError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - one text must not undo the sends beside it
        # The class name only: a message or traceback could carry the number or the text.
        log.error("sms send raised", extra={"event": "sms_send_error", "error": type(exc).__name__})
        return None


def attempt(
    ctx: JobContext, rows: list[OutboundSms], deps: SmsDeps, *, last_try: bool
) -> dict[uuid.UUID, float]:
    """One try at handing each of ``rows`` to the gateway, from whichever job makes it.

    The texts go out side by side (they wait on the provider, not on us). Returns, for each
    row that should be tried again after a transient failure, the seconds to wait; every other
    row's outcome is settled (submitted, failed, or not queued any more).
    """
    session, clock, vault = ctx.session, ctx.clock, deps.vault
    rows = [r for r in rows if r.status == QUEUED and r.provider_sid is None]
    stopped = opted_out(session, {r.to_index for r in rows})
    vault.preload(session, {r.survivor_id for r in rows if r.survivor_id is not None})
    todo: list[tuple[OutboundSms, str, str]] = []
    for row in rows:
        if row.attempt_started_at is not None:
            # An earlier try died during the call: the text may have gone. Never twice.
            advance_status(session, clock, deps, row, FAILED, OUTCOME_UNKNOWN)
        elif row.to_index in stopped:
            advance_status(session, clock, deps, row, FAILED, "opted_out")
        else:
            try:
                to, body = _open(vault, session, row)
            except CryptoError:
                # The survivor's data key is gone (erased): nobody can read this, ever.
                advance_status(session, clock, deps, row, FAILED, "erased")
                continue
            row.attempt_started_at = clock.now()
            todo.append((row, to, body))
    if not todo:
        return {}
    ctx.checkpoint()
    gateway = deps.gateway
    callback = status_callback_url(deps.public_base_url)
    if len(todo) == 1:
        outcomes = [_send_one(gateway, todo[0][1], todo[0][2], callback)]
    else:
        outcomes = list(_senders().map(lambda t: _send_one(gateway, t[1], t[2], callback), todo))
    retry: dict[uuid.UUID, float] = {}
    submitted = []
    for (row, _to, _body), outcome in zip(todo, outcomes, strict=True):
        if isinstance(outcome, str):
            row.provider_sid = outcome
            row.submitted_at = clock.now()
            submitted.append(row)
            log.info(
                "sms submitted",
                extra={"event": "sms_submitted", "outbound_sms_id": str(row.id),
                       "purpose": row.purpose},
            )  # fmt: skip
        elif outcome is None:
            advance_status(session, clock, deps, row, FAILED, OUTCOME_UNKNOWN)
        elif isinstance(outcome, PermanentSmsError):
            advance_status(session, clock, deps, row, FAILED, outcome.reason)
        elif last_try:
            row.attempt_started_at = None
            advance_status(session, clock, deps, row, FAILED, "retries_exhausted")
        else:
            row.attempt_started_at = None  # the provider did not take it: safe to try again
            retry[row.id] = jobs.exponential_backoff(max(1, ctx.job.attempts))
    session.flush()
    apply_early_statuses(session, clock, deps, submitted)
    return retry


_SENDERS: ThreadPoolExecutor | None = None
_SENDERS_LOCK = threading.Lock()


def _senders() -> ThreadPoolExecutor:
    global _SENDERS
    with _SENDERS_LOCK:
        if _SENDERS is None:
            _SENDERS = ThreadPoolExecutor(MAX_CONCURRENT_SENDS, "lantern-sms")
        return _SENDERS


def _rows(session: Session, outbound_ids: list[uuid.UUID]) -> list[OutboundSms]:
    # populate_existing: another try may have changed the rows since this session saw them.
    return list(
        session.scalars(
            select(OutboundSms)
            .where(OutboundSms.id.in_(outbound_ids))
            .order_by(OutboundSms.id)
            .execution_options(populate_existing=True)
        )
    )


def send_job(ctx: JobContext, payload: dict[str, Any], *, deps: SmsDeps) -> None:
    """``sms.send``: hand one outbox row to the gateway."""
    rows = _rows(ctx.session, [uuid.UUID(payload["outbound_sms_id"])])
    last_try = ctx.job.attempts >= ctx.job.max_attempts
    for delay in attempt(ctx, rows, deps, last_try=last_try).values():
        ctx.retry_in(delay, "TransientSmsError")


def dispatch(ctx: JobContext, outbound_ids: list[uuid.UUID], deps: SmsDeps) -> None:
    """Send texts this job queued with ``queue_sms(..., send_job=False)``, now, from this job.

    Commits the job's work so far first (see ``JobContext.checkpoint``). A text that must be
    tried again gets its ``sms.send`` job, due after the backoff.
    """
    rows = _rows(ctx.session, outbound_ids)
    for row_id, delay in attempt(ctx, rows, deps, last_try=False).items():
        enqueue_send(ctx.session, ctx.clock, row_id, ctx.clock.now() + dt.timedelta(seconds=delay))


def redact_job(ctx: JobContext, payload: dict[str, Any], *, gateway: SmsGateway) -> None:
    """``sms.redact``: blank the body of a delivered message at the provider."""
    row = ctx.session.get(OutboundSms, uuid.UUID(payload["outbound_sms_id"]))
    if row is None or row.provider_sid is None or row.redacted_at is not None:
        return
    try:
        gateway.redact(row.provider_sid)
    except PermanentSmsError:
        # The provider no longer has it (or refuses): nothing left to blank; do not retry.
        log.warning(
            "sms redaction refused",
            extra={"event": "sms_redact_refused", "outbound_sms_id": str(row.id)},
        )
        return
    except TransientSmsError as exc:
        raise jobs.RetryLater(jobs.exponential_backoff(ctx.job.attempts), exc.reason) from None
    row.redacted_at = ctx.clock.now()
    ctx.session.flush()
