"""The plain-language consent text and its hash: exactly what a survivor is asked to agree to.

The text is built from fixed sentences, the agency's name, the chosen kinds, the purpose and
the dates; the hash covers the text and every field, so a receipt proves what was agreed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from auth.partners.models import PartnerAgency
from coordination.vocab import CONSENT_KIND_TEXT, CONSENT_KINDS
from core.clock import Clock
from core.crypto import digest_items
from core.errors import InvalidInput, NotFound

DEFAULT_DURATION = dt.timedelta(days=90)
MAX_DURATION = dt.timedelta(days=365)
MIN_DURATION = dt.timedelta(days=1)
TEXT_VERSION = 1


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """What a survivor is asked to agree to, and the text that says it."""

    survivor_id: uuid.UUID
    agency: PartnerAgency
    kinds: tuple[str, ...]
    purpose: str
    starts_at: dt.datetime
    expires_at: dt.datetime
    text: str
    text_hash: str

    # What the preview answer names the agency by (``ConsentTermsSchema`` dumps these terms).
    @property
    def agency_id(self) -> uuid.UUID:
        return self.agency.id

    @property
    def agency_name(self) -> str:
        return self.agency.name


def _check_kinds(kinds: list[str]) -> tuple[str, ...]:
    unknown = [k for k in kinds if k not in CONSENT_KINDS]
    if unknown or not kinds:
        raise InvalidInput(
            "Choose one or more kinds of information.", errors={"kinds": ["Unknown or empty."]}
        )
    # Canonical order: the same choice always gives the same text and hash.
    return tuple(k for k in CONSENT_KINDS if k in kinds)


def _agency(session: Session, agency_id: uuid.UUID) -> PartnerAgency:
    agency = session.get(PartnerAgency, agency_id)
    if agency is None or agency.disabled_at is not None:
        raise NotFound("No such agency.")
    return agency


def _day(moment: dt.datetime) -> str:
    return f"{moment.day} {moment:%B %Y}"


def terms(
    session: Session,
    clock: Clock,
    survivor_id: uuid.UUID,
    agency_id: uuid.UUID,
    kinds: list[str],
    purpose: str,
    expires_at: dt.datetime | None,
) -> ConsentTerms:
    """Validate a proposed consent and write the plain-language text for it."""
    agency = _agency(session, agency_id)
    chosen = _check_kinds(kinds)
    purpose = " ".join(purpose.split())
    if not purpose:
        raise InvalidInput("Say why in a few words.", errors={"purpose": ["Required."]})
    now = clock.now()
    if expires_at is None:
        expires_at = now + DEFAULT_DURATION
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=dt.UTC)
    if expires_at - now < MIN_DURATION:
        raise InvalidInput(
            "A consent must last at least a day.", errors={"expires_at": ["Too soon."]}
        )
    if expires_at - now > MAX_DURATION:
        raise InvalidInput(
            "A consent can last 12 months at most.", errors={"expires_at": ["Too late."]}
        )
    lines = "\n".join(f"- {CONSENT_KIND_TEXT[k]}" for k in chosen)
    text = (
        f"You are agreeing that Lantern may share information about you with {agency.name}.\n\n"
        f"Lantern may:\n{lines}\n\n"
        f"Why: {purpose}\n\n"
        f"This agreement starts on {_day(now)} and ends on {_day(expires_at)}. After that, "
        "nothing more is shared unless you agree again.\n\n"
        f"{agency.name} will know you only by a reference number, never by your name, your "
        "phone number or anything you write in the app.\n\n"
        "You can withdraw this agreement at any time in the app or by telling your advocate. "
        "It stops at once, including anything waiting to be sent."
    )
    text_hash = digest_items(
        {
            "version": TEXT_VERSION,
            "survivor_id": str(survivor_id),
            "agency_id": str(agency.id),
            "kinds": list(chosen),
            "purpose": purpose,
            "starts_on": now.date().isoformat(),
            "expires_at": expires_at.astimezone(dt.UTC).isoformat(),
            "text": text,
        }
    )
    return ConsentTerms(survivor_id, agency, chosen, purpose, now, expires_at, text, text_hash)
