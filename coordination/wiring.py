"""How coordination plugs into a process: its job kinds, its listeners on other domains' hooks
(duress, high risk), and the check-ins' welfare-alert ports (real and decoy). The composition
root (``api/wiring.py``) builds ``CoordinationDeps`` and registers all of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from coordination import decoy_disclosures, deliveries, survivor_notices
from coordination.alerts import DELIVER_JOB, MAX_ATTEMPTS, create_alert
from coordination.deps import CoordinationDeps
from core.audit import Actor
from core.clock import Clock
from core.jobs import JobContext, JobRegistry

EXPIRY_EVERY_SECONDS = 3600.0


#: The names coordination's listeners are registered under (``api/wiring.py``). The duress
#: name is the one retries were queued under when listeners were found by their Python path;
#: it is only a name now, kept so that those retries still run.
DURESS_LISTENER = "coordination.wiring.duress_listener"
HIGH_RISK_LISTENER = "coordination.risk_level_alert"


@dataclass(frozen=True)
class CoordinationListeners:
    """What coordination does when other domains call their hooks: consented alerts."""

    deps: CoordinationDeps

    def duress(self, ctx: JobContext, survivor_id: uuid.UUID, /) -> None:
        """``DuressListener``: a ``duress`` alert to every agency with a welfare consent.
        Called again for the same duress (a retry), it finds the first alert and adds nothing."""
        origin = ctx.job.payload.get("alert_job") or ctx.job.id
        create_alert(
            ctx.session,
            Actor.system(),
            ctx.clock,
            self.deps,
            survivor_id=survivor_id,
            kind="duress",
            data={},
            origin_key=f"duress:{origin}",
        )

    def high_risk(
        self, ctx: JobContext, survivor_id: uuid.UUID, assessment_id: uuid.UUID, /
    ) -> None:
        """``HighRiskListener``: a ``risk_level`` alert (high, meets the MARAC referral
        criteria) to every agency whose consent covers risk levels. Idempotent per assessment."""
        create_alert(
            ctx.session,
            Actor.system(),
            ctx.clock,
            self.deps,
            survivor_id=survivor_id,
            kind="risk_level",
            data={"level": "high", "marac_referral": True},
            origin_key=f"risk:{assessment_id}",
        )


@dataclass
class WelfareAlerts:
    """Check-ins' ``WelfareAlerts`` port (messaging.checkins.deps): a ``welfare_check`` alert
    for a missed check-in, to the agency the survivor chose, or to every consented agency."""

    deps: CoordinationDeps

    def __call__(
        self,
        session: Session,
        clock: Clock,
        survivor_id: uuid.UUID,
        escalation_id: uuid.UUID,
        agency_id: uuid.UUID | None,
    ) -> str:
        _, sent = create_alert(
            session,
            Actor.system(),
            clock,
            self.deps,
            survivor_id=survivor_id,
            kind="welfare_check",
            data={},
            origin_key=f"checkin:{escalation_id}",
            only_agency_id=agency_id,
        )
        return "alerted" if sent else "no_consent"


def decoy_welfare_checks(
    session: Session,
    clock: Clock,
    survivor_id: uuid.UUID,
    cause_id: uuid.UUID,
    agency_id: uuid.UUID | None,
) -> None:
    """Check-ins' ``DecoyWelfareChecks`` port: a decoy's disclosure log shows the welfare check
    a real account's would, and no agency hears anything (``coordination.decoy_disclosures``)."""
    decoy_disclosures.welfare_check_as_delivered(session, clock, survivor_id, cause_id, agency_id)


def register_jobs(registry: JobRegistry, deps: CoordinationDeps) -> None:
    """Webhook deliveries (bound to the sender) and the expiry of survivor notices."""
    registry.register(
        DELIVER_JOB,
        partial(deliveries.deliver_job, deps=deps),
        max_attempts=MAX_ATTEMPTS,  # the handler itself dead-letters after the 10th
        backoff=deliveries.retry_delay,
    )
    registry.register(
        survivor_notices.EXPIRY_JOB,
        survivor_notices.expiry_job,
        every_seconds=EXPIRY_EVERY_SECONDS,
    )
