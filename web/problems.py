"""One place that turns every error into RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, json, request
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from core.context import current_request_id
from core.errors import LanternError, ServiceUnavailable

log = logging.getLogger(__name__)

PROBLEM_MIME = "application/problem+json"
TYPE_PREFIX = "urn:lantern:problem:"
# A database restart or failover usually takes seconds; clients retry after this long.
RETRY_AFTER_SECONDS = "5"

# Stable type slugs for the HTTP errors Werkzeug and flask-smorest raise.
_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    with_request_id: bool = True,
) -> Response:
    body: dict[str, Any] = {"type": TYPE_PREFIX + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    rid = current_request_id()
    if rid and with_request_id:
        body["request_id"] = rid
    if extra:
        body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _mark_failed() -> None:
    # The unit of work in web.db rolls back a request that ended in an error.
    g.lantern_failed = True


def handle_lantern_error(error: LanternError) -> Response:
    if not error.keep_changes:
        _mark_failed()
    return problem_response(
        error.status,
        error.type_slug,
        error.title,
        error.detail,
        headers=error.headers,
        extra=error.extra,
        with_request_id=not error.uniform_body,
    )


def handle_http_exception(error: HTTPException) -> Response:
    _mark_failed()
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    headers: dict[str, str] = {}
    # flask-smorest/webargs put field errors and extra headers in ``data``; Werkzeug puts the
    # Allow header of a 405 in the exception's own headers. Keep both.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            headers[name] = value
    data = getattr(error, "data", None) or {}
    headers.update(data.get("headers") or {})
    extra: dict[str, Any] = {}
    errors = data.get("errors") or data.get("messages")
    if errors:
        # webargs nests messages by location ({"json": {...}}); clients want the fields.
        if isinstance(errors, dict) and set(errors) <= {
            "json",
            "query",
            "headers",
            "form",
            "files",
            "view_args",
            "path",
        }:
            merged: dict[str, Any] = {}
            for value in errors.values():
                if isinstance(value, dict):
                    merged.update(value)
            errors = merged or errors
        extra["errors"] = errors
    detail = data.get("message") or _safe_description(error)
    return problem_response(
        status,
        _HTTP_SLUGS.get(status, f"http-{status}"),
        error.name,
        detail,
        headers=headers,
        extra=extra,
    )


def _safe_description(error: HTTPException) -> str | None:
    # Werkzeug's descriptions are fixed, generic strings; never echo request content.
    return error.description if isinstance(error.description, str) else None


def handle_unexpected(error: BaseException) -> Response:
    _mark_failed()
    original = getattr(error, "original_exception", None) or error
    if _is_database_outage(original):
        log.error(
            "database unavailable",
            extra={"event": "db_unavailable", "error": type(original).__name__},
        )
        e = ServiceUnavailable("The service is briefly unavailable; try again shortly.")
        return problem_response(
            e.status, e.type_slug, e.title, e.detail, headers={"Retry-After": RETRY_AFTER_SECONDS}
        )
    if isinstance(original, LanternError):
        return handle_lantern_error(original)
    # The exception's message may hold request data, so only its class is logged.
    log.error(
        "unhandled error",
        extra={"event": "unhandled_error", "error": type(original).__name__, "path": request.path},
    )
    return problem_response(
        500, "internal-error", "Internal error", "Something went wrong on our side."
    )


def _is_database_outage(error: BaseException) -> bool:
    # OperationalError covers refused connections, restarts, failovers, deadlocks and a locked
    # SQLite file: all worth a retry. A full connection pool is the same for the client.
    if isinstance(error, (OperationalError, DisconnectionError, PoolTimeout)):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def register(app: Flask) -> None:
    app.register_error_handler(LanternError, handle_lantern_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
