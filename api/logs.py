"""Structured logs: one JSON object per line, a request id on each, and no secrets or PII.

The redaction filter sits on the handler, so it sees every record, including those of
libraries: sensitive field names are blanked, and phone numbers, bearer tokens and long
token-like strings are masked wherever they appear in a message.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from core.context import current_request_id

REDACTED = "[redacted]"

SENSITIVE_KEYS = re.compile(
    r"pass(word)?|pin|secret|token|authorization|cookie|otp|totp|code|phone|number|"
    r"body|text|plan|message_text|api_?key|signature|recovery|note|description|address",
    re.IGNORECASE,
)
# Keys that match the pattern above but are safe and useful (fixed vocabularies, ids, timings).
SAFE_KEYS = frozenset({"status_code", "event", "error_code", "route"})

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',]+"), r"\1 " + REDACTED),
    # URL query strings can carry anything; paths are kept, queries are not.
    (re.compile(r"\?[^\s\"']*"), "?" + REDACTED),
    # Phone numbers in any common notation (E.164 or local with separators).
    (re.compile(r"\+?\d[\d\s().\-]{6,}\d"), "[phone]"),
    # Token-like runs (API keys, session tokens, base64 secrets).
    (re.compile(r"[A-Za-z0-9_\-]{28,}={0,2}"), REDACTED),
)

# LogRecord's own attributes: everything else on a record came from ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "request_id",
}


def scrub(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _scrub_value(key: str, value: Any) -> Any:
    if key not in SAFE_KEYS and SENSITIVE_KEYS.search(key):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_value(key, v) for v in value]
    return value


class RedactionFilter(logging.Filter):
    """Masks secrets and PII in the message, its arguments and every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not leak its arguments
            message = str(record.msg)
        record.msg, record.args = scrub(message), ()
        for key in list(vars(record)):
            if key not in _RECORD_ATTRS:
                setattr(record, key, _scrub_value(key, getattr(record, key)))
        if record.exc_info:
            # Tracebacks hold local values and request data; keep only the exception class.
            exc_type = record.exc_info[0]
            record.exc_info = None
            record.exc_text = None
            record.error_class = exc_type.__name__ if exc_type else None
        return True


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


def make_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
        )
    )
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactionFilter())
    handler.set_name("lantern-json")
    return handler


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Route every logger through the JSON, redacting handler (idempotent)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "lantern-json":
            root.removeHandler(existing)
    root.addHandler(make_handler(stream))
    root.setLevel(level.upper())
    # Werkzeug's development access log prints raw URLs with query strings; ours does not.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
