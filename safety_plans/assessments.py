"""Risk assessments: take an instrument, keep the sealed answers and result, raise the alarm.

A result at the instrument's highest band, or one meeting a referral criterion (DASH potential
escalation), marks the survivor eligible for a MARAC referral in the same transaction and
enqueues a durable job that sends the advocates an urgent notice.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.permissions import SurvivorAccess, advocates_of
from core import jobs
from core.clock import Clock
from core.crypto import Binding
from core.errors import InvalidInput, NotFound
from core.hooks import Hook
from core.ids import new_id
from core.notices import StaffNotice, notify_staff
from safety_plans import profile
from safety_plans.deps import SafetyPlansDeps
from safety_plans.instruments import Answer, Catalogue, Instrument, Result, evaluate
from safety_plans.models import RiskAssessment

RISK_ALERT_JOB = "safety_plans.risk_alert"
RISK_NOTICE_KIND = "risk.referral_criterion_met"


class HighRiskListener(Protocol):
    """Another domain acting on a result at the highest band (a consented ``risk_level`` alert
    to partner agencies), inside the risk alert job's transaction: it must not commit, and a
    retried job calls it again for the same assessment."""

    def __call__(
        self, ctx: jobs.JobContext, survivor_id: uuid.UUID, assessment_id: uuid.UUID, /
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class AssessmentView:
    id: uuid.UUID
    instrument_id: str
    taken_by: str  # survivor, advocate
    created_at: dt.datetime
    answers: dict[str, Answer]
    professional_judgement: str | None
    notes: str | None
    result: Result


@dataclass(frozen=True, slots=True)
class MaracStatus:
    eligible: bool
    eligible_since: dt.datetime | None
    assessment_id: uuid.UUID | None


def instrument_of(catalogue: Catalogue, instrument_id: str) -> Instrument:
    instrument = catalogue.get(instrument_id)
    if instrument is None:
        raise NotFound("No such instrument.")
    return instrument


def binding(column: str, row_id: uuid.UUID, survivor_id: uuid.UUID) -> Binding:
    return Binding("risk_assessments", column, row_id, survivor_id)


def take(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    instrument_id: str,
    answers: Mapping[str, Answer],
    professional_judgement: str | None = None,
    notes: str | None = None,
) -> AssessmentView:
    """Score and keep an assessment, by the survivor or by an advocate with them."""
    instrument = instrument_of(deps.catalogue, instrument_id)
    if professional_judgement is not None and not access.is_staff:
        # Judgement is the practitioner's; the survivor's own fear is item 2/3 of the checklist.
        raise InvalidInput(
            "only a practitioner records professional judgement",
            errors={"professional_judgement": ["Only a practitioner can record this."]},
        )
    result = evaluate(instrument, answers, professional_judgement)
    now = clock.now()
    kind = "staff" if access.is_staff else "survivor"
    profile.require_staff_sharing(session, access, clock)
    row_id = new_id()
    sid = access.survivor_id
    stored_answers = {
        "answers": dict(answers),
        "professional_judgement": professional_judgement,
        "notes": notes,
    }
    row = RiskAssessment(
        id=row_id,
        survivor_id=sid,
        instrument_id=instrument.id,
        taken_by_kind=kind,
        taken_by_id=access.principal.actor.id,
        answers_enc=deps.vault.seal(
            session, binding("answers_enc", row_id, sid), json.dumps(stored_answers)
        ),
        result_enc=deps.vault.seal(session, binding("result_enc", row_id, sid), result.to_json()),
        created_at=now,
    )
    session.add(row)
    session.flush()
    if result.referral:
        _raise_referral(session, clock, sid, row)
    return _view(row, stored_answers, result)


def _raise_referral(
    session: Session, clock: Clock, survivor_id: uuid.UUID, row: RiskAssessment
) -> None:
    prof = profile.profile_of(session, clock, survivor_id)
    if prof.marac_eligible_at is None:
        prof.marac_eligible_at = row.created_at
    prof.marac_assessment_id = row.id
    jobs.enqueue(
        session,
        clock,
        RISK_ALERT_JOB,
        {"survivor_id": str(survivor_id), "assessment_id": str(row.id)},
        dedupe_key=f"risk-alert:{row.id}",
    )


def _view(row: RiskAssessment, stored: dict[str, Any], result: Result) -> AssessmentView:
    # ``stored``: the sealed answers, judgement and notes, as ``take`` wrote them.
    return AssessmentView(
        id=row.id,
        instrument_id=row.instrument_id,
        taken_by="advocate" if row.taken_by_kind == "staff" else "survivor",
        created_at=row.created_at,
        answers=stored["answers"],
        professional_judgement=stored.get("professional_judgement"),
        notes=stored.get("notes"),
        result=result,
    )


def _open(session: Session, deps: SafetyPlansDeps, row: RiskAssessment) -> AssessmentView:
    sid = row.survivor_id
    stored = json.loads(
        deps.vault.open_text(session, binding("answers_enc", row.id, sid), row.answers_enc)
    )
    result = Result.from_json(
        deps.vault.open_text(session, binding("result_enc", row.id, sid), row.result_enc)
    )
    return _view(row, stored, result)


def list_assessments(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> list[AssessmentView]:
    """History, newest first."""
    profile.require_staff_sharing(session, access, clock)
    rows = session.scalars(
        select(RiskAssessment)
        .where(RiskAssessment.survivor_id == access.survivor_id)
        .order_by(RiskAssessment.created_at.desc())
    )
    return [_open(session, deps, row) for row in rows]


def get_assessment(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    deps: SafetyPlansDeps,
    *,
    assessment_id: uuid.UUID,
) -> AssessmentView:
    profile.require_staff_sharing(session, access, clock)
    row = session.get(RiskAssessment, assessment_id)
    if row is None or row.survivor_id != access.survivor_id:
        raise NotFound()
    return _open(session, deps, row)


def latest_result(
    session: Session, access: SurvivorAccess, clock: Clock, deps: SafetyPlansDeps
) -> AssessmentView | None:
    found = list_assessments(session, access, clock, deps)
    return found[0] if found else None


def marac_status(session: Session, access: SurvivorAccess, clock: Clock) -> MaracStatus:
    profile.require_staff_sharing(session, access, clock)
    prof = profile.profile_of(session, clock, access.survivor_id)
    return MaracStatus(
        prof.marac_eligible_at is not None, prof.marac_eligible_at, prof.marac_assessment_id
    )


def risk_alert_handler(
    ctx: jobs.JobContext, payload: dict[str, Any], *, listeners: Hook[HighRiskListener]
) -> None:
    """Urgent notice to each advocate of the survivor (no content, only ids), then the
    ``high_risk`` hook's listeners."""
    survivor_id = uuid.UUID(payload["survivor_id"])
    sent = ctx.session.scalars(
        select(StaffNotice).where(
            StaffNotice.kind == RISK_NOTICE_KIND, StaffNotice.survivor_id == survivor_id
        )
    )
    if any(n.details.get("assessment_id") == payload["assessment_id"] for n in sent):
        return  # a retried job whose first run committed its notices (at-least-once)
    recipients = advocates_of(ctx.session, survivor_id)
    notify_staff(
        ctx.session,
        ctx.clock,
        recipients,
        RISK_NOTICE_KIND,
        urgency="urgent",
        survivor_id=survivor_id,
        details={"assessment_id": payload["assessment_id"]},
    )
    for listener in listeners:
        listener(ctx, survivor_id, uuid.UUID(payload["assessment_id"]))
