"""Wiring: every collaborator the domains need, and every listener on every hook, in one place.

This is the composition root's bootstrap (cosmicpython's ``bootstrap.py``): the only code that
builds a domain's collaborators and registers one domain's listeners on another's hooks. Each
domain declares what it needs (a dataclass such as ``CoordinationDeps``, a Protocol per hook it
calls) and receives it: job handlers bound here (``api.registry.job_registry``), routes from
``runtime().collaborators``, typed by their class. Nothing is found by a string.

Built once per runtime (the app, the worker, a test); a test passes its fakes to ``wire`` before
anything else wires that runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

from auth.deps import AttemptDeps, AuthDeps
from auth.survivors.duress import DuressListener
from coordination import wiring as coordination_wiring
from coordination.deps import CoordinationDeps
from core.hooks import Hook
from core.runtime import Runtime
from messaging.checkins import wiring as checkin_wiring
from messaging.checkins.deps import CheckinDeps, CheckinSms, WelfareAlerts
from messaging.push import PushSender, push_from_settings
from messaging.sms.deps import SmsDeps
from messaging.sms.gateway import SmsGateway, gateway_from_settings
from messaging.sms.hooks import InboundSmsClaim, InboundSmsRouter, SmsFailureListener
from safety_plans.assessments import HighRiskListener
from safety_plans.deps import SafetyPlansDeps


@dataclass(frozen=True)
class Hooks:
    """Every hook between domains. Each listener Protocol is declared by the domain that calls
    the hook, and each listener is registered by a stable name in ``wire``."""

    #: auth.survivors.duress, from the duress alert job (and its per-listener retries, by name).
    duress: Hook[DuressListener]
    #: safety_plans.assessments, from the risk alert job for a result at the highest band.
    high_risk: Hook[HighRiskListener]
    #: messaging.sms.sending, when a check-in or advocate-alert text fails for good.
    sms_failure: Hook[SmsFailureListener]
    #: messaging.sms.webhooks, for a survivor's inbound text (the first to take it has it).
    inbound_sms: Hook[InboundSmsRouter]
    #: messaging.sms.webhooks, to attribute a text from a number several survivors hold.
    inbound_sms_claims: Hook[InboundSmsClaim]

    @classmethod
    def empty(cls) -> Hooks:
        return cls(
            duress=Hook("duress"),
            high_risk=Hook("high_risk"),
            sms_failure=Hook("sms_failure"),
            inbound_sms=Hook("inbound_sms"),
            inbound_sms_claims=Hook("inbound_sms_claims"),
        )

    def listener_names(self) -> dict[str, list[str]]:
        """Each hook's listeners by name, in the order they are called."""
        return {
            self.duress.name: self.duress.names(),
            self.high_risk.name: self.high_risk.names(),
            self.sms_failure.name: self.sms_failure.names(),
            self.inbound_sms.name: self.inbound_sms.names(),
            self.inbound_sms_claims.name: self.inbound_sms_claims.names(),
        }


@dataclass(frozen=True)
class Wiring:
    """One process's collaborators, by domain, and its hooks."""

    runtime: Runtime
    hooks: Hooks
    #: The SMS outbox and Twilio's webhooks: gateway, status callbacks, redaction, SMS hooks.
    sms: SmsDeps
    push: PushSender
    #: Partner agencies: webhook sender, resolver, and the keys to seal what they are sent.
    coordination: CoordinationDeps
    #: Risk instruments and attachment storage.
    safety_plans: SafetyPlansDeps
    #: Check-ins' ports: the SMS outbox, and the partner welfare checks (real and decoy).
    checkins: CheckinDeps
    #: Logins, enrolments and credential changes: hasher, keys, vault, attempt counters.
    auth: AuthDeps


def wire(
    runtime: Runtime,
    *,
    sms_gateway: SmsGateway | None = None,
    push: PushSender | None = None,
    checkin_sms: CheckinSms | None = None,
    welfare_alerts: WelfareAlerts | None = None,
) -> Wiring:
    """The runtime's wiring, built on the first call; the keyword arguments replace what
    settings would choose (tests' fakes), and only the first call may give them."""
    existing = runtime.collaborators.find(Wiring)
    if existing is not None:
        if any(x is not None for x in (sms_gateway, push, checkin_sms, welfare_alerts)):
            raise RuntimeError("this runtime is wired already: pass the fakes to its first wire()")
        return existing
    settings = runtime.settings
    hooks = Hooks.empty()

    # Collaborators, chosen by settings. A misconfiguration stops the start here, before the
    # app serves or the worker runs anything.
    coordination = CoordinationDeps.from_settings(settings, runtime.keyring, runtime.vault)
    safety_plans = SafetyPlansDeps.from_settings(settings, runtime.vault)
    auth = AuthDeps(
        settings=settings,
        keyring=runtime.keyring,
        vault=runtime.vault,
        hasher=runtime.hasher,
        attempts=AttemptDeps(runtime.keyring, runtime.session_factory),
    )
    sms = SmsDeps(
        gateway=sms_gateway or gateway_from_settings(settings),
        vault=runtime.vault,
        public_base_url=settings.public_base_url,
        redact=settings.twilio_redact,
        failure_listeners=hooks.sms_failure,
        inbound_routers=hooks.inbound_sms,
        inbound_claims=hooks.inbound_sms_claims,
    )
    checkins = CheckinDeps(
        vault=runtime.vault,
        sms=checkin_sms or checkin_wiring.OutboxSms(sms),
        welfare_alerts=welfare_alerts or coordination_wiring.WelfareAlerts(coordination),
        decoy_welfare_checks=coordination_wiring.decoy_welfare_checks,
    )
    wiring = Wiring(
        runtime=runtime,
        hooks=hooks,
        sms=sms,
        push=push or push_from_settings(settings),
        coordination=coordination,
        safety_plans=safety_plans,
        checkins=checkins,
        auth=auth,
    )

    # Who listens to what, in the order each hook calls them.
    partner_alerts = coordination_wiring.CoordinationListeners(coordination)
    checkin_listeners = checkin_wiring.CheckinListeners(runtime.keyring, checkins)
    hooks.duress.register(coordination_wiring.DURESS_LISTENER, partner_alerts.duress)
    hooks.duress.register(checkin_wiring.DURESS_LISTENER, checkin_listeners.duress)
    hooks.high_risk.register(coordination_wiring.HIGH_RISK_LISTENER, partner_alerts.high_risk)
    hooks.sms_failure.register(checkin_wiring.SMS_FAILURE_LISTENER, checkin_listeners.sms_failed)
    hooks.inbound_sms.register(checkin_wiring.INBOUND_ROUTER, checkin_listeners.route_reply)
    hooks.inbound_sms_claims.register(checkin_wiring.INBOUND_CLAIM, checkin_listeners.claim_reply)

    # What the domains' routes read back from the runtime, each by its own class.
    runtime.collaborators.provide(wiring, sms, coordination, safety_plans, checkins, auth)
    return wiring
