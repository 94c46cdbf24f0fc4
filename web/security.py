"""Security headers on every response, and the request-body checks before any view runs."""

from __future__ import annotations

import io
from typing import IO

from flask import Response, request

from core.errors import LanternError
from web.access import is_page
from web.db import runtime

JSON_MIMES = frozenset({"application/json"})
# Console pages post plain HTML forms, and nothing else.
FORM_MIMES = frozenset({"application/x-www-form-urlencoded"})
# Endpoints that take a body other than JSON (Twilio posts forms; uploads are multipart).
NON_JSON_BODY_ENDPOINTS: frozenset[str] = frozenset(
    {"sms.SmsInbound", "sms.SmsStatus", "journal.SurvivorAttachments"}
)

# Endpoints whose bodies may exceed LANTERN_MAX_BODY_BYTES: journal attachments (photos,
# audio) are limited by LANTERN_ATTACHMENT_MAX_BYTES instead, plus room for multipart framing.
ATTACHMENT_ENDPOINTS: frozenset[str] = frozenset({"journal.SurvivorAttachments"})
_MULTIPART_ALLOWANCE = 64 * 1024

# A JSON API renders nothing: no scripts, frames, forms or plugins, ever.
CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
# What the console's own pages and assets are sent as (``console/static`` holds CSS and JS).
PAGE_TYPES = frozenset({"text/html", "text/css", "text/javascript", "application/javascript"})
# Console pages: only Lantern's own scripts and styles, no inline code of any kind, forms that
# post back to Lantern only, never framed. (``data:`` images are the enrolment QR code.)
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class PayloadTooLarge(LanternError):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(LanternError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"

    def __init__(self, accepted: str = "application/json") -> None:
        super().__init__(f"Send the request body as {accepted}.", headers={"Accept-Post": accepted})


def check_body_size() -> None:
    """Refuse a body whose declared length is over the cap, before anything reads it.

    A chunked body has no declared length; :func:`read_chunked_body` deals with it.
    """
    if request.routing_exception is not None:
        return
    limit = body_limit()
    # Flask 3.1 lets one request carry its own cap: form and stream parsing then use it.
    request.max_content_length = limit
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")


def body_limit() -> int:
    """The largest body this request's endpoint accepts."""
    settings = runtime().settings
    if request.endpoint in ATTACHMENT_ENDPOINTS:
        return max(settings.max_body_bytes, settings.attachment_max_bytes + _MULTIPART_ALLOWANCE)
    return settings.max_body_bytes


def check_content_type() -> None:
    """Refuse a body that is not JSON where the endpoint only understands JSON."""
    if request.routing_exception is not None:
        return
    has_body = bool(request.content_length) or _is_chunked()
    if not has_body or request.method in {"GET", "HEAD", "OPTIONS", "DELETE"}:
        return
    if request.endpoint in NON_JSON_BODY_ENDPOINTS:
        return
    if is_page():
        if request.mimetype not in FORM_MIMES:
            raise UnsupportedMediaType("application/x-www-form-urlencoded")
        return
    if request.mimetype not in JSON_MIMES:
        raise UnsupportedMediaType()


def _is_chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def read_chunked_body() -> None:
    """Read a chunked body up to the cap, so that a longer one is refused, not cut short.

    Werkzeug's ``MAX_CONTENT_LENGTH`` stream stops at the cap *without* an error when the body
    goes on, so a view would parse a truncated body; a long run of JSON whitespace would even
    parse as valid. Reading at most one byte past the cap here tells the two cases apart, and
    the body becomes an ordinary one of known length.
    """
    if request.routing_exception is not None or not _is_chunked():
        return
    environ = request.environ
    if "wsgi.input_terminated" not in environ:
        return  # a server that does not end the stream itself: Werkzeug reads it as empty
    limit = body_limit()
    data = _read_at_most(environ["wsgi.input"], limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body may be at most {limit} bytes.")
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    # Both are cached on first use; nothing has used them yet, but a stale copy must not win.
    for cached in ("stream", "content_length"):
        request.__dict__.pop(cached, None)


def _read_at_most(stream: IO[bytes], size: int) -> bytes:
    # A socket stream may return fewer bytes than asked for before its end.
    out = bytearray()
    while len(out) < size:
        chunk = stream.read(min(64 * 1024, size - len(out)))
        if not chunk:
            break
        out.extend(chunk)
    return bytes(out)


def add_headers(response: Response) -> Response:
    h = response.headers
    # Nothing a survivor sees may linger in a cache on a shared or seized phone.
    h["Cache-Control"] = "no-store"
    h["Pragma"] = "no-cache"
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    # Only the console's pages and their own assets get the pages' policy: a file it hands over
    # (a journal photo, the export) is someone's bytes, and gets the API's sandbox.
    page = is_page() and response.mimetype in PAGE_TYPES
    h["Content-Security-Policy"] = PAGE_CSP if page else CSP
    h["X-Frame-Options"] = "DENY"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if runtime().settings.is_production:
        h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response
