"""Inbound SMS and status callbacks from Twilio: signature check, dedupe, keywords, routing.

Both webhooks are public (Twilio holds no bearer token) and authenticate by Twilio's
signature instead: ``X-Twilio-Signature`` is checked against the configured public URL plus
the request path, never against ``request.url``, which is wrong behind a proxy. An unknown
number gets exactly the answer a known one gets, and nothing happens.

The inbound SMS routing hook (check-ins listen): ``SmsDeps.inbound_routers`` holds
``InboundSmsRouter`` listeners, ``router(session, clock, survivor_id, body) -> bool``, called
in registration order inside the webhook's transaction for every new (deduplicated) SMS from a
known survivor that is not STOP/START (HELP included: a reply code may be that word). The first to
return True has handled it; otherwise the text goes into the survivor's conversation. A
router must not commit and must not raise for a body it does not recognise.

A number several survivors hold (a shared household phone). Who sent a text is known only
when the text itself says so, and only the survivor's own reply codes do: a text is hers when
it is one of her codes and no other holder's. Whom the service last wrote to says nothing
about who answers a shared phone, so it is never used. So, for a shared number:

- STOP and START change the number, for every holder (Twilio itself stops texting the number):
  each holder's advocates are told of her number's opt-out, as for a number held alone.
- A reply code that is one holder's alone goes to her, exactly as if she held the number alone.
- Anything else (a code more than one holder chose, a HELP or INFO keyword, a message) is
  unattributed: it reaches no survivor's record and no conversation, its text is not kept,
  and only its Twilio id is kept (without a survivor) to deduplicate retries. If it is a help
  code of any holder, every holder's advocates get an urgent notice naming no survivor
  (``sms.help_unattributed``), since someone on that phone asked for help; a message gets an
  information notice (``sms.unattributed``); a keyword or a safe code nothing. A safe code
  that cannot be attributed answers no check-in, so an unanswered check-in still escalates.
  ``SmsDeps.inbound_claims`` holds ``InboundSmsClaim`` listeners,
  ``claim(session, survivor_id, body) -> str | None``:
  "help", "safe" (or another label) when the text is one of that survivor's own codes.

Nothing in any of this differs for a survivor by whether someone else holds her number: not the
answer to setting it, not her audit log, not what her advocates see about her.

A decoy account (``auth.survivors.decoys``) is texted its own check-ins, so its reply codes must
answer them, as a real account's do; but whoever set its number may have set a real survivor's, so a
decoy never takes anything from a real holder. Its number is found under an index of its own
(``Survivor.decoy_phone_index``), never among the holders above, so it never makes a number
shared. A text reaches a decoy only when it is exactly one decoy's own reply code, no real
holder's code, and answers something of that decoy's (a check-in, a call for help); anything
else goes on as if no decoy held the number (a message, HELP or INFO never reach a decoy).
STOP and START act on the number for its real holders as above; from a number only decoys
hold, the opt-out is mirrored for the number and nobody is told. Either way a decoy's next
check-in text is then not sent, and the check-in is missed, as a real account's would be.

Twilio's own Advanced Opt-Out replies (to STOP/HELP) must be set to neutral text, or off, on
the Messaging Service: Lantern answers an empty TwiML document and sends no reply itself.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from auth.access.permissions import advocates_of
from auth.survivors.models import Survivor
from core import audit, notices
from core.clock import Clock
from core.crypto import KeyRing, decoy_phone_index, normalize_phone, phone_index
from core.errors import Forbidden, InvalidInput
from core.ids import new_id
from messaging import conversations
from messaging.models import InboundSms, OutboundSms, SmsStatusEvent
from messaging.sms import sending
from messaging.sms.deps import SmsDeps

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

# Twilio's MessageStatus values, mapped onto our forward-only states.
PROVIDER_STATUS = {
    "accepted": sending.QUEUED,
    "scheduled": sending.QUEUED,
    "queued": sending.QUEUED,
    "sending": sending.SENDING,
    "sent": sending.SENT,
    "delivered": sending.DELIVERED,
    "read": sending.DELIVERED,
    "undelivered": sending.UNDELIVERED,
    "failed": sending.FAILED,
    "canceled": sending.FAILED,
}

PROVIDER_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")

UNATTRIBUTED = "unattributed"


# A Twilio message SID: two letters and 32 hex digits. Anything else (a NUL, an overlong
# value) is not from Twilio and must not reach a database column.
TWILIO_SID = re.compile(r"[A-Za-z]{2}[0-9a-fA-F]{32}")


class BadSignature(Forbidden):
    type_slug = "bad-signature"
    title = "Signature did not verify"


def check_signature(
    auth_token: str,
    public_base_url: str,
    full_path: str,
    params: Mapping[str, str],
    signature: str | None,
) -> None:
    """Raise 403 unless ``signature`` signs public URL + path + the form parameters."""
    if not auth_token or not public_base_url or not signature:
        raise BadSignature("The request is not signed.")
    url = public_base_url.rstrip("/") + full_path
    if not RequestValidator(auth_token).validate(url, params, signature):
        raise BadSignature("The request signature did not verify.")


def _record(
    session: Session,
    clock: Clock,
    message_sid: str,
    survivor_id: uuid.UUID | None,
    outcome: str,
) -> bool:
    """Claim ``message_sid``; False when it was seen before (a Twilio retry or a replay)."""
    if session.scalars(select(InboundSms.id).where(InboundSms.message_sid == message_sid)).first():
        return False
    try:
        with session.begin_nested():
            session.add(
                InboundSms(
                    id=new_id(),
                    message_sid=message_sid,
                    survivor_id=survivor_id,
                    outcome=outcome,
                    received_at=clock.now(),
                )
            )
            session.flush()
    except IntegrityError:
        return False  # a concurrent duplicate won the race
    return True


def _classify(body: str) -> str:
    word = body.strip().upper().rstrip(".!")
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return "message"


def receive_sms(
    session: Session,
    clock: Clock,
    keyring: KeyRing,
    deps: SmsDeps,
    *,
    form: Mapping[str, str],
) -> None:
    """Act on one verified inbound SMS at most once."""
    message_sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not TWILIO_SID.fullmatch(message_sid):
        return  # not a message Twilio would send; nothing to deduplicate on, nothing to do
    body = (form.get("Body") or "")[: conversations.MAX_BODY_CHARS]
    e164 = _sender(form.get("From") or "")
    if e164 is None:
        return
    holders = _find_survivors(session, keyring, e164)
    outcome = _classify(body)
    if outcome == "message" and _answers_a_decoy(
        session, clock, keyring, deps, holders, e164, message_sid, body
    ):
        return
    if not holders:
        # Only a decoy has this number, or nobody. A decoy's STOP/START is mirrored for the
        # number (its check-ins then stop, as a real account's would) and nobody is told; an
        # unknown number leaves no trace.
        opt = outcome in ("stop", "start") and bool(_decoys_holding(session, keyring, e164))
        if opt and _record(session, clock, message_sid, None, outcome):
            sending.set_opt_out(session, clock, phone_index(keyring, e164), outcome == "stop")
        return
    index = holders[0].phone_index
    assert index is not None
    survivor = holders[0] if len(holders) == 1 else None
    if outcome in ("stop", "start"):
        if _record(session, clock, message_sid, survivor.id if survivor else None, outcome):
            _mirror_opt_out(session, clock, holders, index, opted_out=outcome == "stop")
            log.info("inbound sms", extra={"event": "sms_inbound", "outcome": outcome})
        return
    claims: list[tuple[Survivor, str]] = []
    if survivor is None and body.strip():
        claims = _claims(session, deps, holders, body)
        if len({claimant.id for claimant, _ in claims}) == 1:
            survivor = claims[0][0]
    if survivor is None:
        if _record(session, clock, message_sid, None, UNATTRIBUTED):
            _unattributed(session, clock, holders, claims, outcome, body)
        return
    if not _record(session, clock, message_sid, survivor.id, outcome):
        return
    if body.strip():
        # HELP goes to the routers too: a survivor's check-in reply meaning "I need help"
        # may be exactly that word, and must never be swallowed as a keyword.
        for router in deps.inbound_routers:
            if router(session, clock, survivor.id, body):
                _set_outcome(session, message_sid, "routed")
                return
        if outcome == "message":  # HELP answers nothing that could tell a reader what this is
            conversations.post_message(
                session,
                clock,
                deps.vault,
                survivor.id,
                conversations.Reader(conversations.SURVIVOR, survivor.id),
                body,
                via="sms",
            )
    log.info(
        "inbound sms",
        extra={"event": "sms_inbound", "survivor_id": str(survivor.id), "outcome": outcome},
    )


def _claims(
    session: Session, deps: SmsDeps, holders: list[Survivor], body: str
) -> list[tuple[Survivor, str]]:
    """Each holder for whom the text is one of her own codes, with what it says."""
    found = []
    for holder in holders:
        for claim in deps.inbound_claims:
            label = claim(session, holder.id, body)
            if label is not None:
                found.append((holder, label))
                break
    return found


def _unattributed(
    session: Session,
    clock: Clock,
    holders: list[Survivor],
    claims: list[tuple[Survivor, str]],
    outcome: str,
    body: str,
) -> None:
    """A text from a shared number that no one holder can claim: into no survivor's record."""
    advocates = [a for holder in holders for a in advocates_of(session, holder.id)]
    if any(label == "help" for _, label in claims):
        notices.notify_staff(session, clock, advocates, "sms.help_unattributed", urgency="urgent")
        audit.record(session, clock, audit.Actor.system(), "sms.help_unattributed")
    elif outcome == "message" and body.strip() and not claims:
        notices.notify_staff(session, clock, advocates, "sms.unattributed", urgency="info")
    log.info("inbound sms", extra={"event": "sms_inbound", "outcome": UNATTRIBUTED})


def _mirror_opt_out(
    session: Session, clock: Clock, holders: list[Survivor], index: str, *, opted_out: bool
) -> None:
    """Mirror STOP/START for the number; on a change, tell each holder's advocates (an opt-out
    urgently) and audit it for her, as for a number held alone."""
    if not sending.set_opt_out(session, clock, index, opted_out):
        return
    for holder in holders:
        # An opt-out the survivor did not choose is a sign the phone is in someone else's hands.
        notices.notify_staff(
            session,
            clock,
            advocates_of(session, holder.id),
            "sms_opt_out" if opted_out else "sms_opt_in",
            urgency="high" if opted_out else "info",
            survivor_id=holder.id,
        )
        audit.record(
            session,
            clock,
            audit.Actor("survivor", holder.id),
            "sms.opt_out" if opted_out else "sms.opt_in",
            subject_kind="survivor",
            subject_id=holder.id,
            survivor_id=holder.id,
        )


def _set_outcome(session: Session, message_sid: str, outcome: str) -> None:
    row = session.scalars(select(InboundSms).where(InboundSms.message_sid == message_sid)).one()
    row.outcome = outcome
    session.flush()


def _sender(raw_from: str) -> str | None:
    """The sender's number in E.164, or None when it is not a phone number."""
    if not raw_from or len(raw_from) > 32:
        return None
    try:
        return normalize_phone(raw_from)
    except InvalidInput:
        return None


def _find_survivors(session: Session, keyring: KeyRing, e164: str) -> list[Survivor]:
    """Every real survivor (not erased) holding this number, in a stable order."""
    return _holding(session, Survivor.phone_index == phone_index(keyring, e164))


def _decoys_holding(session: Session, keyring: KeyRing, e164: str) -> list[Survivor]:
    """Every decoy account (not erased) whose own number this is, in a stable order."""
    return _holding(session, Survivor.decoy_phone_index == decoy_phone_index(keyring, e164))


def _holding(session: Session, found_by: ColumnElement[bool]) -> list[Survivor]:
    return list(
        session.scalars(
            select(Survivor).where(found_by, Survivor.erased_at.is_(None)).order_by(Survivor.id)
        )
    )


def _answers_a_decoy(
    session: Session,
    clock: Clock,
    keyring: KeyRing,
    deps: SmsDeps,
    holders: list[Survivor],
    e164: str,
    message_sid: str,
    body: str,
) -> bool:
    """Route a text to a decoy account when it is one decoy's own reply code, no real holder's
    code, and it answers something of the decoy's (a check-in, a call for help). True when it
    did, or when the text was seen before; False leaves it to the real holders, as if no decoy
    held the number (a decoy never gets a message, a keyword, or a tie)."""
    if not body.strip():
        return False
    decoys = _decoys_holding(session, keyring, e164)
    if not decoys or _claims(session, deps, holders, body):
        return False
    claimants = {decoy.id for decoy, _label in _claims(session, deps, decoys, body)}
    if len(claimants) != 1:
        return False
    [decoy_id] = claimants
    # A savepoint: a code that answers nothing of the decoy's is undone and goes to the real
    # holders (a real survivor's "1" to her advocate is not lost to a decoy's safe code).
    attempt = session.begin_nested()
    if not _record(session, clock, message_sid, decoy_id, "routed"):
        attempt.commit()
        return True
    if any(router(session, clock, decoy_id, body) for router in deps.inbound_routers):
        attempt.commit()
        log.info("inbound sms", extra={"event": "sms_inbound", "outcome": "routed"})
        return True
    attempt.rollback()
    return False


def receive_status(
    session: Session, clock: Clock, deps: SmsDeps, *, form: Mapping[str, str]
) -> None:
    """Move one outbound message forward (never back); unknown SIDs change nothing."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    raw = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    status = PROVIDER_STATUS.get(raw)
    if not TWILIO_SID.fullmatch(sid) or status is None:
        return
    # Locked: two callbacks racing for one message must apply one after the other.
    row = session.scalars(
        select(OutboundSms).where(OutboundSms.provider_sid == sid).with_for_update()
    ).one_or_none()
    code = (form.get("ErrorCode") or "").strip()[:8]
    reason = f"provider_{code}" if code.isdigit() else raw
    if row is None:
        if PROVIDER_SID.fullmatch(sid):
            # Possibly ours, with the send job not yet committed: keep it for the job.
            session.add(
                SmsStatusEvent(
                    id=new_id(),
                    provider_sid=sid,
                    status=status,
                    reason=reason,
                    received_at=clock.now(),
                )
            )
            session.flush()
        return
    sending.advance_status(session, clock, deps, row, status, reason)
