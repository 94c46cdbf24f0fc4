"""The composition root: every hook listener and job kind registered once, by name, and found
again by that name; each domain's collaborators typed and provided once."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy.orm import Session

from api.app import create_app
from api.registry import job_registry
from api.wiring import Wiring, wire
from coordination.deps import CoordinationDeps
from core.clock import Clock
from core.hooks import Collaborators, Hook
from core.runtime import Runtime
from messaging.checkins.deps import CheckinDeps
from messaging.push import RecordingPushSender
from messaging.sms.deps import SmsDeps
from safety_plans.deps import SafetyPlansDeps

LISTENERS = {
    # The duress names are the Python paths retries were queued under before listeners had
    # names: kept, so that a retry queued by an older release still finds its listener.
    "duress": [
        "coordination.wiring.duress_listener",
        "messaging.checkins.timers.duress_listener",
    ],
    "high_risk": ["coordination.risk_level_alert"],
    "sms_failure": ["checkins.sms_failed"],
    "inbound_sms": ["checkins.reply"],
    "inbound_sms_claims": ["checkins.reply_code"],
}

JOB_KINDS = {
    "auth.attempts_prune",
    "checkins.decoy_partner_step",
    "checkins.generate",
    "checkins.generate_schedule",
    "checkins.grace",
    "checkins.partner_step",
    "checkins.send",
    "coordination.consent_expiry_warnings",
    "coordination.deliver",
    "core.audit_verify",
    "messaging.expire",
    "messaging.push",
    "safety_plans.attachment_sweep",
    "safety_plans.risk_alert",
    "sms.redact",
    "sms.send",
    "survivor.duress_alert",
    "survivor.duress_listener",
}


def _fresh(runtime: Runtime) -> Runtime:
    """The test's runtime before anything wired it (a new process)."""
    return dataclasses.replace(runtime, collaborators=Collaborators())


def test_every_hook_listener_is_registered_once_by_name_in_call_order(runtime: Runtime) -> None:
    wiring = wire(_fresh(runtime))
    assert wiring.hooks.listener_names() == LISTENERS


def test_every_job_kind_is_registered_once(runtime: Runtime) -> None:
    rt = _fresh(runtime)
    # JobRegistry refuses a kind registered twice: building it at all proves each is once.
    assert set(job_registry(rt).types) == JOB_KINDS
    assert set(job_registry(rt).types) == JOB_KINDS  # a second worker on the same runtime


def test_wiring_a_runtime_again_adds_nothing(runtime: Runtime) -> None:
    rt = _fresh(runtime)
    wiring = wire(rt)
    create_app(rt.settings, runtime=rt)
    create_app(rt.settings, runtime=rt)  # the app and the worker share one runtime in tests
    job_registry(rt)
    assert wire(rt) is wiring
    assert wiring.hooks.listener_names() == LISTENERS


def test_each_domain_reads_back_the_collaborators_the_root_built(runtime: Runtime) -> None:
    rt = _fresh(runtime)
    wiring = wire(rt)
    found = rt.collaborators
    assert found.need(Wiring) is wiring
    assert found.need(SmsDeps) is wiring.sms
    assert found.need(CoordinationDeps) is wiring.coordination
    assert found.need(SafetyPlansDeps) is wiring.safety_plans
    assert found.need(CheckinDeps) is wiring.checkins
    # One set of hooks: what the webhooks call is what the root registered on.
    assert wiring.sms.failure_listeners is wiring.hooks.sms_failure
    assert wiring.sms.inbound_routers is wiring.hooks.inbound_sms
    assert wiring.sms.inbound_claims is wiring.hooks.inbound_sms_claims
    # Each runtime has its own: a test's listener never leaks into another test's runtime.
    other = wire(_fresh(runtime))
    assert other.hooks.duress is not wiring.hooks.duress
    assert other.sms is not wiring.sms


def test_fakes_are_taken_on_the_first_wiring_only(runtime: Runtime) -> None:
    rt = _fresh(runtime)
    push = RecordingPushSender()
    assert wire(rt, push=push).push is push
    with pytest.raises(RuntimeError, match="wired already"):
        wire(rt, push=RecordingPushSender())


def test_a_hook_refuses_a_second_listener_under_one_name() -> None:
    hook: Hook[object] = Hook("duress")
    hook.register("first", "a")
    hook.register("second", "b")
    with pytest.raises(ValueError, match="already has a listener named 'first'"):
        hook.register("first", "c")
    with pytest.raises(ValueError, match="needs a name"):
        hook.register("", "d")
    assert list(hook) == ["a", "b"]
    assert list(hook.items()) == [("first", "a"), ("second", "b")]
    assert (hook.get("second"), hook.get("gone")) == ("b", None)
    assert len(hook) == 2


def test_the_root_refuses_a_second_listener_under_a_taken_name(runtime: Runtime) -> None:
    wiring = wire(_fresh(runtime))

    def impostor(session: Session, clock: Clock, survivor_id: uuid.UUID, body: str) -> bool:
        return True

    with pytest.raises(ValueError, match=r"checkins\.reply"):
        wiring.hooks.inbound_sms.register("checkins.reply", impostor)
    assert wiring.hooks.listener_names() == LISTENERS


def test_collaborators_are_one_of_each_class_and_a_missing_one_is_a_wiring_error() -> None:
    found = Collaborators()
    push = RecordingPushSender()
    found.provide(push)
    assert found.need(RecordingPushSender) is push
    assert RecordingPushSender in found
    with pytest.raises(ValueError, match="provided twice"):
        found.provide(RecordingPushSender())
    assert found.find(SmsDeps) is None
    with pytest.raises(LookupError, match="no SmsDeps"):
        found.need(SmsDeps)
