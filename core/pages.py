"""Keyset pagination: one cursor format, one query parameter, one next-cursor field.

Every list the API pages is ordered by a row's time and id (newest first, or oldest first for a
feed). A page ends at its last row; the next page starts past that row's ``Position``. A
client sees the position only as an opaque cursor: the ``cursor`` query parameter takes the
``next_cursor`` of the page before (absent for the first page), and ``next_cursor`` is null
when nothing follows.

The cursor is urlsafe base64, without padding, of the JSON ``["<ISO 8601 time, UTC>", "<id>"]``.
Only a cursor this API gave is accepted, byte for byte: anything else (not base64, not that
JSON, a naive or impossible time, a huge number, a lone surrogate, NUL...) is refused by
``CursorField`` as a 422 problem naming ``cursor``: it never reaches a query, and never becomes a
server error.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from marshmallow import ValidationError, fields, validate
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from core.schemas import Schema

#: The one query parameter that takes a cursor.
CURSOR_PARAM = "cursor"
MAX_CURSOR_CHARS = 200
DEFAULT_PAGE = 50
NOT_A_CURSOR = "Not a cursor from this API."

CURSOR_DOC = (
    "Opaque: the next_cursor of the previous page (leave out for the first page). A cursor "
    "this API did not give is refused with 422."
)
NEXT_CURSOR_DOC = "Pass as ?cursor= for the next page; null when nothing follows."

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the time and id of its last row."""

    at: dt.datetime
    id: uuid.UUID


# Not slots: ``Page[X](...)`` sets ``__orig_class__``, which a slotted frozen class refuses.
@dataclass(frozen=True)
class Page(Generic[T]):
    """One page as a service returns it to a view (a ``PageSchema`` dumps it as it is): the
    rows, and where the next page starts (None when nothing follows)."""

    items: Sequence[T]
    next_cursor: Position | None


def encode(position: Position) -> str:
    """The opaque cursor of ``position``."""
    at = position.at.astimezone(dt.UTC)
    raw = json.dumps([at.isoformat(), str(position.id)]).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str) -> Position | None:
    """The position ``cursor`` names, or None when this API did not give it (checked byte for
    byte: the cursor must be exactly what ``encode`` makes of the position it names)."""
    position = _parse(cursor)
    return position if position is not None and encode(position) == cursor else None


def _parse(cursor: str) -> Position | None:
    if not cursor or len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        parts = json.loads(raw.decode("ascii"))
        if not (isinstance(parts, list) and len(parts) == 2):
            return None
        stamp, ident = parts
        if not (isinstance(stamp, str) and isinstance(ident, str)):
            return None
        at = dt.datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            return None
        return Position(at.astimezone(dt.UTC), uuid.UUID(ident))
    except (ValueError, OverflowError, binascii.Error):
        # UnicodeDecodeError and json.JSONDecodeError are ValueErrors; a time near the ends
        # of the calendar overflows when moved to UTC.
        return None


def past(
    position: Position,
    at: InstrumentedAttribute[dt.datetime],
    ident: InstrumentedAttribute[uuid.UUID],
    *,
    newest_first: bool,
) -> ColumnElement[bool]:
    """The rows after ``position`` in a list ordered by (``at``, ``ident``)."""
    if newest_first:
        return or_(at < position.at, and_(at == position.at, ident < position.id))
    return or_(at > position.at, and_(at == position.at, ident > position.id))


class CursorField(fields.String):
    """A cursor on the wire, a ``Position`` in Python (query parameter and next_cursor). A
    string field to the contract, whose loaded value is the position it names."""

    def _deserialize(  # type: ignore[override]
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> Position:
        position = decode(super()._deserialize(value, attr, data, **kwargs))
        if position is None:
            raise ValidationError(NOT_A_CURSOR)
        return position

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else encode(value)


def limit_field(max_page: int) -> fields.Integer:
    # A query string is text: "2" is read as 2 ("2.5" is still refused).
    return fields.Integer(load_default=DEFAULT_PAGE, validate=validate.Range(1, max_page))


class PageQuerySchema(Schema):
    """The query of a paged list: ``cursor`` and ``limit`` (subclasses bound the limit)."""

    cursor = CursorField(
        metadata={"description": CURSOR_DOC, "minLength": 1, "maxLength": MAX_CURSOR_CHARS}
    )
    limit = limit_field(100)


class PageSchema(Schema):
    """A page: the list's ``items`` (declared by each subclass) and ``next_cursor``."""

    next_cursor = CursorField(
        required=True, allow_none=True, metadata={"description": NEXT_CURSOR_DOC}
    )
