"""Where the domains plug into the shell: models, blueprints, authenticators, job handlers.

Each list is the one place to add a new domain module, so nothing is discovered by magic.
"""

from __future__ import annotations

import importlib

from flask import Flask, request

from api.access import AUTHENTICATORS_KEY
from api.db import runtime, session
from auth import attempts, duress, recovery
from auth.authn import authenticate, bearer_token
from auth.principals import Principal
from coordination import wiring as coordination_wiring
from core import audit_watch
from core.jobs import JobRegistry
from core.runtime import Runtime
from messaging import conversations as messaging_conversations
from messaging import push as messaging_push
from messaging.checkins import timers as checkin_timers
from messaging.checkins import wiring as checkin_wiring
from messaging.sms import dispatch as sms_dispatch
from messaging.sms import gateway as sms_gateway
from safety_plans import setup as safety_plans_setup

# Every module that defines models; alembic and the tests import these.
MODEL_MODULES: tuple[str, ...] = (
    "core.vault",
    "core.audit",
    "core.jobs",
    "core.notices",
    "auth.models",
    "coordination.models",
    "safety_plans.models",
    "messaging.checkins.models",
    "messaging.models",
)

# (module, blueprint attribute, URL prefix)
BLUEPRINTS: tuple[tuple[str, str, str], ...] = (
    ("api.health", "blp", ""),
    ("coordination.routes_survivor", "blp", "/v1"),
    ("coordination.routes_staff", "blp", "/v1"),
    ("coordination.routes_partner", "blp", "/v1"),
    ("coordination.routes_admin", "blp", "/v1"),
    ("auth.partner_routes", "admin_blp", "/v1"),
    ("auth.partner_routes", "partner_blp", "/v1"),
    ("auth.caseload_routes", "blp", "/v1"),
    ("auth.notice_routes", "blp", "/v1"),
    ("auth.access_log_routes", "blp", "/v1"),
    ("safety_plans.routes_plan", "blp", "/v1"),
    ("safety_plans.routes_risk", "blp", "/v1"),
    ("safety_plans.routes_journal", "blp", "/v1"),
    ("safety_plans.routes_evidence", "blp", "/v1"),
    ("auth.survivor_routes", "blp", "/v1"),
    ("messaging.checkins.routes", "blp", "/v1"),
    ("messaging.routes_survivor", "blp", "/v1"),
    ("messaging.routes_staff", "blp", "/v1"),
    ("messaging.routes_sms", "blp", "/v1"),
    ("auth.staff_routes", "blp", "/v1"),
    ("auth.staff_routes", "admin_blp", "/v1"),
)


def load_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)


def register_blueprints(api: object) -> None:
    for module, attr, prefix in BLUEPRINTS:
        blp = getattr(importlib.import_module(module), attr)
        api.register_blueprint(blp, url_prefix=prefix or None)  # type: ignore[attr-defined]


def _bearer_authenticator() -> Principal | None:
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        return None
    rt = runtime()
    return authenticate(session(), rt.clock, rt.settings, token)


def register_extensions(app: Flask, runtime: Runtime) -> None:
    """Domain collaborators and authenticators, chosen by settings."""
    app.extensions[AUTHENTICATORS_KEY] = [_bearer_authenticator]
    # Webhook sender by settings; also appends the duress listener (a `duress` alert).
    coordination_wiring.install(runtime)
    safety_plans_setup.register_extensions(runtime)  # risk instruments, attachment storage
    # Callables (ctx, survivor_id) run by the duress alert job; contract in auth/duress.py.
    runtime.extensions.setdefault("duress_listeners", [])
    # SMS gateway and push sender by settings; failure listeners and inbound routers are
    # filled by check-ins (contracts in messaging/sms/sending.py and messaging/sms/webhooks.py).
    runtime.extensions.setdefault("sms", sms_gateway.gateway_from_settings(runtime.settings))
    runtime.extensions.setdefault("push", messaging_push.push_from_settings(runtime.settings))
    runtime.extensions.setdefault("sms_redact", runtime.settings.twilio_redact)
    runtime.extensions.setdefault("sms_failure_listeners", [])
    runtime.extensions.setdefault("inbound_sms_routers", [])
    checkin_wiring.install(runtime)  # SMS port, failure listener, reply router, duress


def job_registry(runtime: Runtime) -> JobRegistry:
    """Every job kind a worker can run, with the handlers' collaborators bound."""
    registry = JobRegistry()
    # The hourly audit-chain verification tells the active admins of a break.
    audit_watch.register_jobs(registry, runtime, admins=recovery.active_admin_ids)
    coordination_wiring.register_jobs(registry, runtime)
    safety_plans_setup.register_jobs(registry, runtime)
    duress.register_jobs(registry, runtime)
    attempts.register_jobs(registry)
    checkin_timers.register_jobs(registry, runtime)
    sms_dispatch.register_jobs(registry, runtime)
    messaging_push.register_jobs(registry, runtime)
    messaging_conversations.register_jobs(registry, runtime)
    return registry
