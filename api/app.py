"""``create_app(settings)``: the HTTP shell around the domains."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from api.registry import register_blueprints, register_extensions
from console import wiring as console
from core.context import request_id_var
from core.crypto import random_token
from core.runtime import Runtime, build_runtime
from core.settings import Settings, load_settings
from web import access, db, json_input, openapi, problems, security
from web.logs import configure_logging

access_log = logging.getLogger("lantern.access")


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> Flask:
    """Build the application. With no settings, read them from ``LANTERN_`` variables."""
    if settings is None:
        settings = runtime.settings if runtime else load_settings(os.environ)
    settings.check_production()
    configure_logging(settings.log_level)
    if runtime is None:
        runtime = build_runtime(settings)

    app = Flask(
        "lantern", instance_path=os.path.abspath(settings.instance_path), static_folder=None
    )
    app.config.update(
        DEBUG=settings.debug,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        # Only what flask-smorest needs; the console adds its cookie's settings below.
        API_TITLE="Lantern",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/" if settings.openapi_enabled else None,
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    app.json = json_input.JSONProvider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.trusted_proxies:
        # Only as many X-Forwarded-* hops as there are proxies we run are believed.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.extensions["lantern"] = runtime

    api = openapi.install(app, _DESCRIPTION)
    problems.register(app)
    register_extensions(app, runtime)
    register_blueprints(api)
    console.install(app, runtime)

    app.before_request(_start_request)
    # The size cap comes first so that no credential lookup is spent on an oversized body;
    # the media type is judged, and a chunked body read, only for a caller allowed to send one.
    app.before_request(security.check_body_size)
    app.before_request(access.authenticate)
    app.before_request(security.check_content_type)
    app.before_request(security.read_chunked_body)
    # Last: a body is parsed only once the caller is known to be allowed to send it.
    app.before_request(json_input.check_json_body)
    # Flask runs after_request and teardown functions in reverse order of registration. The
    # unit of work must finish first, because a failed commit replaces the response, and the
    # replacement still needs the security headers and the request id.
    app.after_request(_finish_request)
    app.after_request(security.add_headers)
    app.after_request(db.finish_unit_of_work)
    # Reset last, so that lines logged while the session closes still carry the request id.
    app.teardown_request(_reset_request_id)
    app.teardown_request(db.close_session)
    return app


_DESCRIPTION = (
    "Lantern: safety plans, advocate messaging, discreet check-ins and consented alerts for "
    "survivors of domestic abuse, their advocates and partner agencies. Every error is "
    "RFC 9457 application/problem+json."
)


def _start_request() -> None:
    g.lantern_started = time.perf_counter()
    # Our own id, never the client's: a client-chosen id could be used to forge log lines.
    g.lantern_request_id = random_token(16)[:22]
    g.lantern_rid_token = request_id_var.set(g.lantern_request_id)


def _finish_request(response: Response) -> Response:
    rid = g.get("lantern_request_id")
    if rid:
        response.headers["X-Request-Id"] = rid
    started = g.get("lantern_started")
    extra: dict[str, Any] = {
        "event": "request",
        "method": request.method,
        # The route's rule, not the raw path: ids stay out of the access log's cardinality.
        "route": request.url_rule.rule if request.url_rule else None,
        "status_code": response.status_code,
    }
    if started is not None:
        extra["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    access_log.info("request", extra=extra)
    return response


def _reset_request_id(_exc: BaseException | None) -> None:
    token = g.pop("lantern_rid_token", None)
    if token is not None:
        request_id_var.reset(token)
