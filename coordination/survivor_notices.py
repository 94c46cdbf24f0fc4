"""What the survivor's app lists (neutral notices) and the survivor's news preference; the
periodic job that warns of consents ending within a week (once per consent)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, advocates_of
from coordination.models import Consent, SharingPreference, SurvivorNotice
from core import jobs, notices
from core.clock import Clock
from core.ids import new_id

EXPIRY_JOB = "coordination.consent_expiry_warnings"
WARN_BEFORE = dt.timedelta(days=7)
BATCH = 500


@dataclass(frozen=True, slots=True)
class Preferences:
    """Whether the app tells the survivor, in neutral words, of agency news."""

    agency_news: bool


def list_for(session: Session, access: SurvivorAccess) -> list[SurvivorNotice]:
    return list(
        session.scalars(
            select(SurvivorNotice)
            .where(SurvivorNotice.survivor_id == access.survivor_id)
            .order_by(SurvivorNotice.created_at.desc(), SurvivorNotice.id)
            .limit(200)
        )
    )


def preferences(session: Session, access: SurvivorAccess) -> Preferences:
    pref = session.get(SharingPreference, access.survivor_id)
    return Preferences(bool(pref and pref.agency_news))


def set_preferences(
    session: Session, access: SurvivorAccess, clock: Clock, *, agency_news: bool
) -> Preferences:
    pref = session.get(SharingPreference, access.survivor_id)
    if pref is None:
        pref = SharingPreference(survivor_id=access.survivor_id, updated_at=clock.now())
        session.add(pref)
    pref.agency_news = agency_news
    pref.updated_at = clock.now()
    session.flush()
    return Preferences(agency_news)


def warn_expiring(session: Session, clock: Clock) -> int:
    """Tell survivor and advocates, once, about consents ending within a week."""
    now = clock.now()
    due = session.scalars(
        select(Consent)
        .where(
            Consent.state == "active",
            Consent.expiry_warned_at.is_(None),
            Consent.expires_at > now,
            Consent.expires_at <= now + WARN_BEFORE,
        )
        .order_by(Consent.expires_at)
        .limit(BATCH)
    ).all()
    for consent in due:
        consent.expiry_warned_at = now
        session.add(
            SurvivorNotice(
                id=new_id(),
                survivor_id=consent.survivor_id,
                kind="consent_expiring",
                details={
                    "consent_id": str(consent.id),
                    "agency_id": str(consent.agency_id),
                    "expires_at": consent.expires_at.isoformat(),
                },
                created_at=now,
            )
        )
        notices.notify_staff(
            session,
            clock,
            advocates_of(session, consent.survivor_id),
            "consent_expiring",
            survivor_id=consent.survivor_id,
            details={"consent_id": str(consent.id), "expires_at": consent.expires_at.isoformat()},
        )
    session.flush()
    return len(due)


def expiry_job(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    warn_expiring(ctx.session, ctx.clock)
