"""Where the domains plug into the shell: models, blueprints, authenticators, job handlers.

Each list is the one place to add a new domain module, so nothing is discovered by magic.
"""

from __future__ import annotations

import importlib

from flask import Flask, request

from api.access import AUTHENTICATORS_KEY
from api.db import runtime, session
from auth.authn import authenticate, bearer_token
from auth.principals import Principal
from auth.throttle import throttle_from_settings
from core.jobs import JobRegistry
from core.runtime import Runtime

# Every module that defines models; alembic and the tests import these.
MODEL_MODULES: tuple[str, ...] = (
    "core.vault",
    "core.audit",
    "core.jobs",
    "core.notices",
    "auth.models",
)

# (module, blueprint attribute, URL prefix)
BLUEPRINTS: tuple[tuple[str, str, str], ...] = (("api.health", "blp", ""),)


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
    runtime.extensions.setdefault("throttle", throttle_from_settings(runtime.settings.redis_url))


def job_registry(runtime: Runtime) -> JobRegistry:
    """Every job kind a worker can run, with the handlers' collaborators bound."""
    registry = JobRegistry()
    return registry
