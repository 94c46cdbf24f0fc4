"""How safety_plans plugs into a process: its job handlers, with their collaborators bound."""

from __future__ import annotations

from functools import partial

from core.hooks import Hook
from core.jobs import JobRegistry
from safety_plans import assessments, attachments
from safety_plans.assessments import HighRiskListener
from safety_plans.deps import SafetyPlansDeps


def register_jobs(
    registry: JobRegistry, deps: SafetyPlansDeps, high_risk: Hook[HighRiskListener]
) -> None:
    """The risk alert (urgent notice to advocates, then the ``high_risk`` hook) and the sweep
    of abandoned uploads."""
    registry.register(
        assessments.RISK_ALERT_JOB, partial(assessments.risk_alert_handler, listeners=high_risk)
    )
    registry.register(
        attachments.SWEEP_JOB,
        partial(attachments.sweep_handler, storage=deps.storage),
        every_seconds=attachments.SWEEP_EVERY_SECONDS,
    )
