"""Security headers on every response, and the request-body checks before any view runs."""

from __future__ import annotations

from flask import Response, request

from api.db import runtime
from core.errors import LanternError

JSON_MIMES = frozenset({"application/json"})
# Endpoints that take a body other than JSON (Twilio posts forms; uploads are multipart).
NON_JSON_BODY_ENDPOINTS: frozenset[str] = frozenset()

# A JSON API renders nothing: no scripts, frames, forms or plugins, ever.
CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"


class PayloadTooLarge(LanternError):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(LanternError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"

    def __init__(self) -> None:
        super().__init__(
            "Send the request body as application/json.",
            headers={"Accept-Post": "application/json"},
        )


def check_body() -> None:
    """Refuse oversized bodies before reading them, and bodies that are not JSON."""
    if request.routing_exception is not None:
        return
    limit = runtime().settings.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    has_body = bool(length) or request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    if not has_body or request.method in {"GET", "HEAD", "OPTIONS", "DELETE"}:
        return
    if request.endpoint in NON_JSON_BODY_ENDPOINTS:
        return
    if request.mimetype not in JSON_MIMES:
        raise UnsupportedMediaType()


def add_headers(response: Response) -> Response:
    h = response.headers
    # Nothing a survivor sees may linger in a cache on a shared or seized phone.
    h["Cache-Control"] = "no-store"
    h["Pragma"] = "no-cache"
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["Content-Security-Policy"] = CSP
    h["X-Frame-Options"] = "DENY"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if runtime().settings.is_production:
        h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response
