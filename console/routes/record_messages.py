"""The Messages tab: the conversation with the survivor, its receipts and her settings.

Reading or sending needs a code given within the last 15 minutes (step-up), as on ``/v1``. The
API checks that before it looks for the record (a 401 before a 404); a page must first know the
record is on the caseload (anything else is a 404 page), so while only the code is asked for it
reaches the record under the record's own action (``survivor.read``), and the conversation only
under the API's (``messages.read``, ``messages.send``): the survivor's access log never says her
messages were read when they were not shown.

The code goes to the same service as ``POST /v1/staff/step-up`` (``sessions.step_up``: the same
attempt counters and audit); a refused code is kept like the API keeps it (the page answers
without rolling back). A message sent after the step-up lapsed comes back with a code field and
the text as typed; the message and the code then go together.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Response, redirect, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import (
    CASEWORKER,
    STEP_UP_WINDOW,
    StepUpRequired,
    SurvivorAccess,
    require_fresh_second_factor,
)
from auth.deps import AuthDeps
from auth.staff import sessions
from auth.staff.models import StaffMember
from console.forms_messages import MessageForm, StepUpForm
from console.pages import bp, me, survivor_access
from console.record import TABS, Tab, render_tab
from core.errors import BadRequest
from core.pages import Position, decode, encode
from messaging import service as conversation
from messaging.conversations import STAFF, SURVIVOR, MessagesLimited
from web import problems
from web.access import allow
from web.db import runtime, session

TAB = "console.messages"
TABS.append(Tab(TAB, "Messages"))

PAGE_SIZE = 50
#: What is audited while only the code is asked for: the record, not its conversation.
RECORD = "survivor.read"
MINUTES = int(STEP_UP_WINDOW.total_seconds() // 60)

CODE_REFUSED = (
    "The code was not accepted. Enter the code your authenticator app shows now; after "
    "several failures, wait a while before trying again."
)
ENTER_CODE = "Enter the six-digit code from your authenticator app."
WRITE_SOMETHING = "Write a message of at most 4000 characters."
LIFETIME_TEXT = {
    "off": "off (messages stay until the survivor clears them)",
    "1h": "after 1 hour",
    "24h": "after 24 hours",
    "7d": "after 7 days",
}


@dataclass(frozen=True, slots=True)
class Line:
    """One message as the tab shows it."""

    id: uuid.UUID
    from_staff: bool
    who: str
    body: str
    sent_at: dt.datetime
    by_sms: bool
    expires_at: dt.datetime | None
    new: bool
    receipt: str


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%d %b %H:%M")


def _staff_names(s: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = s.execute(
        select(StaffMember.id, StaffMember.display_name).where(StaffMember.id.in_(ids))
    )
    return {sid: name for sid, name in rows}


def _fresh() -> bool:
    """The API's step-up rule, asked rather than raised: is a code needed now?"""
    try:
        require_fresh_second_factor(me(), runtime().clock)
    except StepUpRequired:
        return False
    return True


def _step_up(code: str) -> bool:
    """``POST /v1/staff/step-up``'s service; False when the code was refused. The refusal's
    count and audit stay written, as the API keeps them (``keep_changes``)."""
    rt = runtime()
    try:
        sessions.step_up(session(), me(), rt.clock, rt.collaborators.need(AuthDeps), code=code)
    except sessions.ReauthenticationFailed:
        return False
    return True


def _sender(m: conversation.StaffMessage, my_id: uuid.UUID, names: dict[uuid.UUID, str]) -> str:
    if m.from_ == SURVIVOR:
        return "Survivor"
    if m.staff_id == my_id:
        return "You"
    return names.get(m.staff_id, "A colleague") if m.staff_id else "A colleague"


def _receipt(m: conversation.StaffMessage, my_id: uuid.UUID, names: dict[uuid.UUID, str]) -> str:
    if m.from_ == STAFF:
        theirs = next((r for r in m.receipts if r.reader == SURVIVOR), None)
        if theirs is not None and theirs.read_at:
            return f"Read {_when(theirs.read_at)}"
        if theirs is not None and theirs.delivered_at:
            return f"Delivered {_when(theirs.delivered_at)}, not read yet"
        return "Not delivered yet"
    readers = [
        f"{'you' if r.staff_id == my_id else names.get(r.staff_id, 'a colleague')} "
        f"({_when(r.read_at)})"
        for r in m.receipts
        if r.reader == STAFF and r.read_at and r.staff_id is not None
    ]
    return "Read by " + ", ".join(readers) if readers else ""


def _conversation(access: SurvivorAccess, after: Position | None) -> dict[str, Any]:
    """The page of messages, marked read as the app's ``POST .../messages/read`` would mark it
    (up to the newest message from the survivor, on the first page)."""
    s, rt, my_id = session(), runtime(), me().staff_id
    page = conversation.staff_list(s, access, rt.clock, rt.vault, after=after, limit=PAGE_SIZE)
    ids = {m.staff_id for m in page.items if m.staff_id} | {
        r.staff_id for m in page.items for r in m.receipts if r.staff_id
    }
    names = _staff_names(s, ids)
    lines = [
        Line(
            id=m.id,
            from_staff=m.from_ == STAFF,
            who=_sender(m, my_id, names),
            body=m.body,
            sent_at=m.sent_at,
            by_sms=m.via == "sms",
            expires_at=m.expires_at,
            new=m.from_ == SURVIVOR
            and not any(r.staff_id == my_id and r.read_at for r in m.receipts),
            receipt=_receipt(m, my_id, names),
        )
        for m in page.items
    ]
    newest_in = next((m.id for m in page.items if m.from_ == SURVIVOR), None)
    if after is None and newest_in is not None:
        conversation.staff_mark_read(s, access, rt.clock, up_to=newest_in)
    # Shown with the conversation, and audited as ``GET .../messages/settings`` audits them.
    survivor_access(access.survivor_id, "messages.settings_read", subject_kind="conversation")
    settings = conversation.staff_get_settings(s, access, rt.clock)
    return {
        "lines": lines,
        "older": encode(page.next_cursor) if page.next_cursor else None,
        "disappear": LIFETIME_TEXT.get(settings.disappear_after, settings.disappear_after),
        "reply_by_sms": settings.reply_by_sms,
        "read_only": access.via == "break_glass",
    }


def _tab(survivor_id: uuid.UUID, *, status: int = 200, **context: Any) -> Response:
    context.setdefault("send_form", MessageForm(formdata=None))
    return render_tab(
        "record_messages.html",
        survivor_id,
        TAB,
        status=status,
        principal=me(),
        minutes=MINUTES,
        **context,
    )


def _see_conversation(survivor_id: uuid.UUID) -> Response:
    return redirect(url_for(TAB, survivor_id=survivor_id), code=303)  # type: ignore[return-value]


@bp.get("/survivors/<uuid:survivor_id>/messages")
@allow(CASEWORKER)
def messages(survivor_id: uuid.UUID) -> Response:
    after = None
    if "cursor" in request.args:
        after = decode(request.args["cursor"])
        if after is None:
            raise BadRequest("That is not a page of this conversation.")
    if not _fresh():
        survivor_access(survivor_id, RECORD)
        return _tab(survivor_id, step_up_form=StepUpForm(formdata=None))
    access = survivor_access(survivor_id, "messages.read", subject_kind="conversation")
    return _tab(survivor_id, **_conversation(access, after))


@bp.post("/survivors/<uuid:survivor_id>/messages/step-up")
@allow(CASEWORKER)
def messages_step_up(survivor_id: uuid.UUID) -> Response:
    survivor_access(survivor_id, RECORD)
    form = StepUpForm()
    if not form.validate():
        return _tab(survivor_id, step_up_form=form, failed=ENTER_CODE, status=422)
    if not _step_up(form.code.data or ""):
        return _tab(
            survivor_id, step_up_form=StepUpForm(formdata=None), failed=CODE_REFUSED, status=403
        )
    return _see_conversation(survivor_id)


def _draft(
    survivor_id: uuid.UUID, form: MessageForm, *, needs_code: bool, status: int, failed: str = ""
) -> Response:
    """The send form again, holding what was typed (never the code), without the conversation."""
    form.code.data = ""
    return _tab(
        survivor_id, draft=True, send_form=form, needs_code=needs_code, failed=failed, status=status
    )


@bp.post("/survivors/<uuid:survivor_id>/messages")
@allow(CASEWORKER)
def messages_send(survivor_id: uuid.UUID) -> Response:
    form = MessageForm()
    form.validate()  # its errors are read below, once the record is known to be reachable
    fresh = _fresh()
    if not fresh:
        # Written as a send would be (write=True): a read-only break-glass gets its 404 here.
        survivor_access(survivor_id, RECORD, write=True)
        if form.code.errors or not (form.code.data or "").strip():
            failed = ENTER_CODE if form.code.errors else ""
            return _draft(survivor_id, form, needs_code=True, failed=failed, status=401)
        if not _step_up(form.code.data or ""):
            return _draft(survivor_id, form, needs_code=True, failed=CODE_REFUSED, status=403)
    elif form.body.errors:
        survivor_access(survivor_id, RECORD, write=True)
    if form.body.errors:
        return _draft(survivor_id, form, needs_code=False, failed=WRITE_SOMETHING, status=422)
    access = survivor_access(survivor_id, "messages.send", write=True, subject_kind="conversation")
    rt = runtime()
    try:
        conversation.staff_send(
            session(),
            access,
            rt.clock,
            rt.vault,
            body=form.body.data or "",
            per_minute=rt.settings.staff_messages_per_minute,
        )
    except MessagesLimited as error:
        # Rolled back as on /v1 (a step-up given with it too, so the code is asked again).
        problems.handle_lantern_error(error)
        return _draft(survivor_id, form, needs_code=not fresh, failed=error.detail, status=429)
    return _see_conversation(survivor_id)
