"""How coordination plugs into a process: its collaborators, job kinds and listeners."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from coordination import decoy_disclosures, deliveries, survivor_notices
from coordination.alerts import create_alert
from coordination.deps import EXTENSION_KEY, CoordinationDeps, deps_from
from coordination.urls import parse_allowlist
from coordination.webhooks_http import sender_from_settings
from core.audit import Actor
from core.clock import Clock
from core.jobs import JobRegistry
from core.runtime import Runtime

EXPIRY_EVERY_SECONDS = 3600.0


def install(runtime: Runtime) -> CoordinationDeps:
    """Put the coordination collaborators (webhook sender chosen by settings) in the runtime,
    with the duress listener and the check-ins' welfare-alert ports (real and decoy)."""
    existing = runtime.extensions.get(EXTENSION_KEY)
    if isinstance(existing, CoordinationDeps):
        return existing
    parse_allowlist(runtime.settings.webhook_allowlist)  # a malformed entry stops the start
    deps = CoordinationDeps(
        settings=runtime.settings,
        keyring=runtime.keyring,
        vault=runtime.vault,
        sender=sender_from_settings(runtime.settings.webhook_sender),
    )
    runtime.extensions[EXTENSION_KEY] = deps
    runtime.extensions.setdefault("welfare_alerts", WelfareAlerts(deps))
    runtime.extensions.setdefault("decoy_welfare_checks", decoy_welfare_checks)
    listeners = runtime.extensions.setdefault("duress_listeners", [])
    if duress_listener not in listeners:
        listeners.append(duress_listener)
    risk = runtime.extensions.setdefault("high_risk_listeners", [])
    if high_risk_listener not in risk:
        risk.append(high_risk_listener)
    return deps


def duress_listener(ctx: Any, survivor_id: uuid.UUID) -> None:
    """Called by the duress job: a ``duress`` alert to every agency with a welfare consent.
    Called again for the same duress (a retry), it finds the first alert and adds nothing."""
    origin = ctx.job.payload.get("alert_job") or ctx.job.id
    create_alert(
        ctx.session,
        ctx.clock,
        deps_from(ctx.deps),
        survivor_id,
        "duress",
        {},
        Actor.system(),
        origin_key=f"duress:{origin}",
    )


def high_risk_listener(ctx: Any, survivor_id: uuid.UUID, assessment_id: uuid.UUID) -> None:
    """A result at the highest band: a ``risk_level`` alert (high, meets the MARAC referral
    criteria) to every agency whose consent covers risk levels. Idempotent per assessment."""
    create_alert(
        ctx.session,
        ctx.clock,
        deps_from(ctx.deps),
        survivor_id,
        "risk_level",
        {"level": "high", "marac_referral": True},
        Actor.system(),
        origin_key=f"risk:{assessment_id}",
    )


@dataclass
class WelfareAlerts:
    """Check-ins' ``WelfareAlerts`` port (messaging.checkins.ports): a ``welfare_check`` alert
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
            clock,
            self.deps,
            survivor_id,
            "welfare_check",
            {},
            Actor.system(),
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


def register_jobs(registry: JobRegistry, runtime: Runtime) -> None:
    install(runtime)
    deliveries.register_jobs(registry)
    registry.register(
        survivor_notices.EXPIRY_JOB,
        survivor_notices.expiry_job,
        every_seconds=EXPIRY_EVERY_SECONDS,
    )
