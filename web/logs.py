"""Structured logs: one JSON object per line, a request id on each, and no secrets or PII.

The redaction filter sits on the handler, so it sees every record, including those of
libraries: sensitive field names are blanked; phone numbers, bearer tokens, values named as
secrets and long token-like strings are masked wherever they appear; and, during a request,
so is every value the client sent in the query string or the body already read.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from core.context import current_request_id
from web import json_input

REDACTED = "[redacted]"

SENSITIVE_KEYS = re.compile(
    r"pass(word)?|pin|secret|token|authorization|cookie|otp|totp|code|phone|number|"
    r"body|text|plan|message_text|api[_-]?key|signature|recovery|note|description|address",
    re.IGNORECASE,
)
# Keys that match the pattern above but are safe and useful (fixed vocabularies, ids, timings).
SAFE_KEYS = frozenset({"status_code", "event", "error_code", "route"})

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',]+"), r"\1 " + REDACTED),
    # "PIN 4821", "password=hunter2", "api_key: abc": the word names a secret, so the value
    # after it goes, however short (a PIN is too short for the token pattern below).
    (
        re.compile(
            r"(?i)\b((?:duress[_ -]?)?pin|pass(?:word|phrase|code)?|pwd|secret|token|"
            r"api[_ -]?key|x-api-key|authorization|cookie|otp|totp|"
            r"(?:recovery|enrol?ment|invitation)[_ -]?code)"
            r"([\"']?\s*[:=]\s*[\"']?|\s+[\"']?)[^\s\"',;&]+"
        ),
        r"\1\2" + REDACTED,
    ),
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


# Object ids (random UUIDs) are what makes a log line useful and reveal nothing: they are set
# aside before the patterns run, which would otherwise take their digit runs for phone numbers.
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b")
_KEPT = re.compile("\ue000(\\d+)\ue000")


def scrub(text: str, sent: Iterable[str] = ()) -> str:
    """Mask secrets and PII in ``text``, and any of the strings in ``sent``."""
    for value in sent:
        text = text.replace(value, REDACTED)
    ids: list[str] = []

    def keep(match: re.Match[str]) -> str:
        ids.append(match.group(0))
        return f"\ue000{len(ids) - 1}\ue000"

    text = _UUID.sub(keep, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _KEPT.sub(lambda m: ids[int(m.group(1))], text) if ids else text


# Shorter values are too common to mask everywhere (and too short to identify anyone).
_MIN_SENT_LENGTH = 4


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        yield str(value)


def _sent_values() -> tuple[str, ...]:
    """What the client sent in this request (query values, and the body if it was read).

    A view that logs what it was given by mistake leaks nothing this way. The body is never
    read here: only a body a view already read (and Werkzeug cached) is looked at.
    """
    if not has_request_context():
        return ()
    body = getattr(request, "_cached_data", None)
    cached = g.get("lantern_log_sent")
    if cached is not None and cached[0] is body:
        return tuple(cached[1])
    values: set[str] = set()
    for _name, value in request.args.items(multi=True):
        values.add(value)
    if body:
        text = body.decode("utf-8", "replace")
        values.add(text)
        # Not JSON: the whole body is masked, which is all that can be said of it.
        with contextlib.suppress(ValueError):
            values.update(_leaves(json_input.loads(body)))
    sent = sorted((v for v in values if len(v) >= _MIN_SENT_LENGTH), key=len, reverse=True)
    g.lantern_log_sent = (body, sent)
    return tuple(sent)


# A whole number this long is more likely a phone number than a count or a duration.
_PHONE_SIZED_INT = 10_000_000


def _scrub_value(key: str, value: Any, sent: tuple[str, ...]) -> Any:
    if key not in SAFE_KEYS and SENSITIVE_KEYS.search(key):
        return REDACTED
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return "[phone]" if abs(value) >= _PHONE_SIZED_INT else value
    if isinstance(value, str):
        return scrub(value, sent)
    if isinstance(value, dict):
        return {scrub(str(k), sent): _scrub_value(str(k), v, sent) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scrub_value(key, v, sent) for v in value]
    # Anything else would be rendered with str() by the formatter, unscrubbed: render it here.
    return scrub(str(value), sent)


class RedactionFilter(logging.Filter):
    """Masks secrets and PII in the message, its arguments and every extra field."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not leak its arguments
            message = str(record.msg)
        sent = _sent_values()
        record.msg, record.args = scrub(message, sent), ()
        for key in list(vars(record)):
            if key not in _RECORD_ATTRS:
                setattr(record, key, _scrub_value(key, getattr(record, key), sent))
        if record.exc_info:
            # Tracebacks hold local values and request data; keep only the exception class.
            exc_type = record.exc_info[0]
            record.exc_info = None
            record.exc_text = None
            record.error_class = exc_type.__name__ if exc_type else None
        # A stack (``stack_info=True``) is a traceback by another name.
        record.stack_info = None
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
