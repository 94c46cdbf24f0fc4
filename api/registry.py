"""Where the domains plug into the shell: models, blueprints, authenticators, job handlers.

Each list is the one place to add a new domain module, so nothing is discovered by magic. The
collaborators and hooks the job handlers are bound to are built in ``api.wiring``.
"""

from __future__ import annotations

import importlib

from flask import Flask, request

from api.wiring import wire
from auth import wiring as auth_wiring
from auth.authn import authenticate, bearer_token
from auth.principals import Principal
from auth.staff import recovery
from console import session as console_session
from coordination import wiring as coordination_wiring
from core import audit_watch
from core.jobs import JobRegistry
from core.runtime import Runtime
from messaging import wiring as messaging_wiring
from messaging.checkins import wiring as checkin_wiring
from messaging.sms import wiring as sms_wiring
from safety_plans import wiring as safety_plans_wiring
from web.access import Authenticators
from web.db import runtime, session

# Every module that defines models; alembic and the tests import these.
MODEL_MODULES: tuple[str, ...] = (
    "core.vault",
    "core.audit",
    "core.jobs",
    "core.notices",
    "auth.models",
    "auth.staff.models",
    "auth.survivors.models",
    "auth.access.models",
    "auth.partners.models",
    "coordination.models",
    "safety_plans.models",
    "messaging.checkins.models",
    "messaging.models",
)

# (module, blueprint attribute, URL prefix)
BLUEPRINTS: tuple[tuple[str, str, str], ...] = (
    ("api.health", "blp", ""),
    ("coordination.routes.survivor", "blp", "/v1"),
    ("coordination.routes.staff", "blp", "/v1"),
    ("coordination.routes.partner", "blp", "/v1"),
    ("coordination.routes.admin", "blp", "/v1"),
    ("auth.partners.routes", "admin_blp", "/v1"),
    ("auth.partners.routes", "partner_blp", "/v1"),
    ("auth.access.routes", "blp", "/v1"),
    ("auth.staff.routes.notices", "blp", "/v1"),
    ("auth.access.routes", "log_blp", "/v1"),
    ("safety_plans.routes.plan", "blp", "/v1"),
    ("safety_plans.routes.risk", "blp", "/v1"),
    ("safety_plans.routes.journal", "blp", "/v1"),
    ("safety_plans.routes.evidence", "blp", "/v1"),
    ("auth.survivors.routes", "blp", "/v1"),
    ("messaging.checkins.routes", "blp", "/v1"),
    ("messaging.routes.survivor", "blp", "/v1"),
    ("messaging.routes.staff", "blp", "/v1"),
    ("messaging.sms.routes", "blp", "/v1"),
    ("auth.staff.routes.own", "blp", "/v1"),
    ("auth.staff.routes.admin", "admin_blp", "/v1"),
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
    """The authenticators, and the runtime's collaborators and hooks (``api.wiring.wire``)."""
    wire(runtime)
    if Authenticators not in runtime.collaborators:  # one runtime may serve several apps (tests)
        runtime.collaborators.provide(
            Authenticators((_bearer_authenticator,), pages=(console_session.page_authenticator,))
        )


def job_registry(runtime: Runtime) -> JobRegistry:
    """Every job kind a worker can run, with the handlers' collaborators bound."""
    wiring = wire(runtime)
    hooks = wiring.hooks
    registry = JobRegistry()
    # The hourly audit-chain verification tells the active admins of a break.
    audit_watch.register_jobs(registry, runtime.settings, admins=recovery.active_admin_ids)
    coordination_wiring.register_jobs(registry, wiring.coordination)
    safety_plans_wiring.register_jobs(registry, wiring.safety_plans, hooks.high_risk)
    auth_wiring.register_jobs(registry, hooks.duress)
    checkin_wiring.register_jobs(registry, wiring.checkins)
    sms_wiring.register_jobs(registry, wiring.sms)
    messaging_wiring.register_jobs(registry, wiring.push)
    return registry
