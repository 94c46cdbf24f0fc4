"""The latest risk band of each survivor on an advocate's caseload, for the console's caseload
page: one query for the newest assessment of each, results opened in memory (answers are not).

Only the caller's own caseload (not break-glass: that is for one record, audited), and only
where the survivor shares the plan and assessments with staff: the same rule as
``assessments.list_assessments`` (``profile.require_staff_sharing``), answered as "no band"
instead of a 404 because the page lists many survivors.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from auth.access.models import CaseloadEntry
from auth.principals import StaffPrincipal
from safety_plans.assessments import binding
from safety_plans.deps import SafetyPlansDeps
from safety_plans.instruments import Result
from safety_plans.models import RiskAssessment, SafetyProfile


def caseload_bands(
    session: Session,
    staff: StaffPrincipal,
    deps: SafetyPlansDeps,
    *,
    survivor_ids: Collection[uuid.UUID],
) -> dict[uuid.UUID, str]:
    """Band of the newest assessment, by survivor; survivors without one are absent."""
    wanted = list(dict.fromkeys(survivor_ids))
    if not wanted:
        return {}
    newest = (
        select(RiskAssessment.survivor_id, func.max(RiskAssessment.created_at).label("at"))
        .where(RiskAssessment.survivor_id.in_(wanted))
        .group_by(RiskAssessment.survivor_id)
        .subquery()
    )
    rows = list(
        session.scalars(
            select(RiskAssessment)
            .join(
                newest,
                (newest.c.survivor_id == RiskAssessment.survivor_id)
                & (newest.c.at == RiskAssessment.created_at),
            )
            .join(CaseloadEntry, CaseloadEntry.survivor_id == RiskAssessment.survivor_id)
            # No profile row yet means the defaults, under which the plan is shared.
            .outerjoin(SafetyProfile, SafetyProfile.survivor_id == RiskAssessment.survivor_id)
            .where(
                CaseloadEntry.staff_id == staff.staff_id,
                (SafetyProfile.plan_shared.is_(None)) | (SafetyProfile.plan_shared.is_(True)),
            )
        )
    )
    deps.vault.preload(session, [r.survivor_id for r in rows])
    bands: dict[uuid.UUID, str] = {}
    for row in rows:
        sealed_at = binding("result_enc", row.id, row.survivor_id)
        bands[row.survivor_id] = Result.from_json(
            deps.vault.open_text(session, sealed_at, row.result_enc)
        ).band
    return bands
