"""Decoy accounts: what a duress PIN opens.

The person who forces a survivor to log in, or who watches her do it, may be the abuser. A
duress PIN opens a harmless decoy and silently alerts her advocates. Whatever is done there
must then read back exactly as it would in a real account, or the decoy gives itself away: a
PIN changed in the decoy must open it from then on, a message sent must show in the
conversation, a phone number set must be there next time.

So a decoy is a whole survivor account of its own (``Survivor.decoy_of`` names its owner), with
its own data key, plan, journal, messages, check-ins and consents, and every service serves it
like any other account: there is no "decoy" branch to forget in a new feature. What keeps it
harmless is that nothing it does reaches a person who could tell it from a real account:

- it has no caseload entry, so no staff member can open it (``permissions`` and ``caseload``
  answer 404 for it), and notices about it have nobody to go to (``advocates_of`` is empty);
- partner agencies never hear of it (``coordination`` raises no delivery for it);
- its check-ins are texted, as a real account's are, to the number set in it, and nothing else
  is ever texted to it (``messaging.sms.sending.DECOY_PURPOSES``: never a conversation reply,
  never a staff text about it); it is never sent a push. A real account texts whatever number
  is entered, so this reaches nobody new;
- its number is found under a blind index of its own (``core.crypto.decoy_phone_index``),
  never the real one: it never makes a real survivor's number shared, and an inbound text
  reaches it only when it is one of its own reply codes, no real holder's, answering something
  of its own (``messaging/sms/webhooks.py``). STOP and START act on the number (a decoy's
  texts stop as a real account's would); delivery failures end its check-ins as any;
- its check-ins are never escalated: a missed one, or a help reply, reads back escalated as a
  real one does, and when a real account's welfare check would go to the agency it consented
  to (nobody having acknowledged the escalation in time), its disclosure log gains the same
  lines, while no agency is asked (``coordination.decoy_disclosures``).

A decoy can itself have a decoy (a duress PIN set inside a duress session must also open a
decoy). Login checks a fixed number of PINs, so decoys nest at most ``MAX_DEPTH`` deep; a
duress PIN set deeper than that is stored and opens nothing. When two accounts of a family share
a PIN, the deepest wins (``sessions._match``): a decoy can then never be used to test a
guess at the real PIN.

The real owner's advocates are told, urgently, whenever the duress PIN is used and when it is
changed from inside the decoy (the survivor's own duress PIN no longer works after that).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core.clock import Clock
from core.ids import new_id

#: The owner, its decoy, and the decoy's decoy: the accounts one login can open.
MAX_DEPTH = 2


def decoy_account(session: Session, survivor_id: uuid.UUID) -> Survivor | None:
    """The decoy account that ``survivor_id``'s duress PIN opens, if one was ever made."""
    return session.scalars(select(Survivor).where(Survivor.decoy_of == survivor_id)).one_or_none()


def family(session: Session, owner: Survivor) -> list[Survivor]:
    """The owner and its decoys, outermost first, at most ``MAX_DEPTH`` of them."""
    accounts = [owner]
    while len(accounts) <= MAX_DEPTH:
        decoy = decoy_account(session, accounts[-1].id)
        if decoy is None:
            break
        accounts.append(decoy)
    return accounts


def owner_of(session: Session, survivor: Survivor) -> Survivor:
    """The real account at the top of a decoy chain (the account itself when it is real)."""
    account = survivor
    for _ in range(MAX_DEPTH + 1):
        if account.decoy_of is None:
            return account
        parent = session.get(Survivor, account.decoy_of)
        if parent is None:  # pragma: no cover - the foreign key cascades
            return account
        account = parent
    return account


def owner_id_of(session: Session, survivor_id: uuid.UUID) -> uuid.UUID:
    survivor = session.get(Survivor, survivor_id)
    return owner_of(session, survivor).id if survivor is not None else survivor_id


def depth(session: Session, survivor: Survivor) -> int:
    """0 for a real account, 1 for its decoy, 2 for the decoy's decoy."""
    level, account = 0, survivor
    while account.decoy_of is not None and level <= MAX_DEPTH:
        parent = session.get(Survivor, account.decoy_of)
        if parent is None:  # pragma: no cover
            break
        level, account = level + 1, parent
    return level


def is_decoy_account(session: Session, survivor_id: uuid.UUID) -> bool:
    """True for a decoy account: nothing it does may reach staff or agencies, and only its own
    check-ins its own phone."""
    decoy_of = session.scalar(select(Survivor.decoy_of).where(Survivor.id == survivor_id))
    return decoy_of is not None


def ensure_decoy(session: Session, clock: Clock, survivor: Survivor) -> Survivor:
    """The account's decoy, made (empty, in the same time zone) on first need."""
    existing = decoy_account(session, survivor.id)
    if existing is not None:
        return existing
    decoy = Survivor(
        id=new_id(),
        handle_digest=None,
        pin_hash=None,
        timezone=survivor.timezone,
        decoy_of=survivor.id,
        created_at=clock.now(),
    )
    session.add(decoy)
    session.flush()
    return decoy
