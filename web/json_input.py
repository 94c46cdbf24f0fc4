"""The one parser of request JSON: bounded, so that no body can crash what reads it.

Python's ``json`` accepts what the rest of the stack cannot survive:

- a lone UTF-16 surrogate (``"\\ud800"``) parses into a ``str`` that cannot be encoded again,
  so argon2, HMAC, the database driver or a log handler fails later with UnicodeEncodeError;
- nesting a few hundred levels deep exhausts the interpreter's stack in the recursive parser
  (or in any recursive walk after it): RecursionError, raised again inside the error handler;
- an integer of thousands of digits trips Python's int-string limit (ValueError), and one that
  parses still overflows every database integer column;
- ``NaN``, ``Infinity`` and ``1e999`` are not numbers any field can hold.

Every one of these is refused here as a 422 problem before any view or schema sees the body.
The depth is measured on the raw text, before the recursive parser runs. NUL characters are
valid JSON and harmless to Python; the project ``Schema`` refuses them per field, for every
location (body, query, form), because PostgreSQL cannot store them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

from core.errors import BadRequest, InvalidInput

# The deepest request schema nests 4 levels; no client has a reason to go past this, and every
# recursive walk in the stack is safe far beyond it.
MAX_DEPTH = 32
# Every integer on the wire fits a signed 64-bit column (I-JSON, RFC 7493, is stricter still).
INT_BOUND = 2**63

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnacceptableJson(InvalidInput, ValueError):
    """Syntactically JSON, but no field of this service can take it (422).

    Also a ValueError, so that code treating "not parseable" alike (the log filter, Flask's
    ``get_json``) handles it as such.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


def loads(data: bytes | str) -> Any:
    """Parse a request body, refusing what would crash anything downstream.

    Raises :class:`UnacceptableJson` for the shapes above, ``ValueError`` for text that is not
    UTF-8 JSON at all.
    """
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    _check_depth(text)
    value = json.loads(
        text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
    )
    _check_strings(value)
    return value


def _check_depth(text: str) -> None:
    # A body with fewer brackets than the limit cannot nest deeper than it: the common case
    # costs two counts. Otherwise strings are cut out (their brackets do not nest) and the
    # brackets left are walked; a deep body is refused within its first MAX_DEPTH + 1 of them.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise UnacceptableJson(f"JSON may nest at most {MAX_DEPTH} levels deep.")
        else:
            depth -= 1


def _parse_int(digits: str) -> int:
    # The digits are counted first: int() refuses (or slowly converts) a huge run of them.
    if len(digits.lstrip("-")) <= 19:
        value = int(digits)
        if -INT_BOUND < value < INT_BOUND:
            return value
    raise UnacceptableJson("An integer is out of range (at most 64 bits).")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnacceptableJson("A number is out of range.")
    return value


def _parse_constant(name: str) -> float:
    raise UnacceptableJson(f"{name} is not a JSON number.")


def _check_strings(value: Any) -> None:
    # Iterative, so that the walk itself cannot recurse; keys are strings too.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings: list[str] = [item]
        elif isinstance(item, dict):
            strings = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        if any(_SURROGATE.search(s) for s in strings):
            raise UnacceptableJson("A string holds a lone UTF-16 surrogate, which is not text.")


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with request bodies parsed by :func:`loads` (``request.get_json()``)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


def check_json_body() -> None:
    """Parse a JSON request body once, before any view or schema reads it.

    What passes here is safe for any JSON parser after it (webargs parses it again).
    """
    if request.routing_exception is not None or not request.is_json:
        return
    data = request.get_data(cache=True)
    if not data:
        return
    try:
        loads(data)
    except UnacceptableJson:
        raise
    except ValueError as exc:  # not UTF-8, or not JSON at all
        raise BadRequest("The request body is not valid JSON (UTF-8).") from exc
