"""What a decoy account's disclosure log shows where a real account's would show a welfare check.

A real account's disclosure log lists each welfare check its consented agency was sent (after
a missed check-in nobody acknowledged in time), and the person holding the phone may read it.
A decoy account tells no agency anything (``auth.survivors.decoys``), so at the moment a real
account's check would be sent, the decoy's log gains exactly the lines a delivered check writes
(``disclosures.record_alert_to``), for the agencies a real alert would go to
(``alerts.recipients``), and nothing else: no alert, no delivery, no request, no notice.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.survivors import decoys
from coordination import alerts, disclosures
from coordination.models import Disclosure
from core.clock import Clock

WELFARE_CHECK = "welfare_check"


def welfare_check_as_delivered(
    session: Session,
    clock: Clock,
    survivor_id: uuid.UUID,
    cause_id: uuid.UUID,
    agency_id: uuid.UUID | None,
) -> int:
    """The disclosure lines a delivered welfare check for ``cause_id`` would write, in a decoy
    account's log only (a real account's log records only what was really sent). Called again
    for the same cause, it adds nothing. Returns how many lines were written."""
    if not decoys.is_decoy_account(session, survivor_id):
        return 0
    written = 0
    for agency, consent_id, share_id in alerts.recipients(
        session, survivor_id, WELFARE_CHECK, clock.now(), agency_id
    ):
        # Stands for the delivery a real check would have: one per cause and agency.
        subject_id = uuid.uuid5(cause_id, str(agency))
        seen = select(Disclosure.id).where(
            Disclosure.survivor_id == survivor_id, Disclosure.subject_id == subject_id
        )
        if session.scalars(seen).first() is not None:
            continue
        disclosures.record_alert_to(
            session,
            clock,
            survivor_id=survivor_id,
            agency_id=agency,
            kind=WELFARE_CHECK,
            subject_id=subject_id,
            consent_id=consent_id,
            lawful_share_id=share_id,
        )
        written += 1
    return written
