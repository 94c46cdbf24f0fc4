"""Storage limits counted from what is stored, made exact under parallel requests.

A limit such as "30 messages a minute" or "1 GiB of attachments" is checked against the rows
the acting principal has already stored: there is no counter to drift, to lose in a restart or
to share between app processes. Counting and then storing are two steps, though, so parallel
requests of one principal would all count before any of them commits, and all pass. The
caller therefore first takes :func:`serialise`, which holds every other writer of the same
principal back until this transaction ends; the count it then makes sees whatever they
committed.

On PostgreSQL that is a transaction-scoped advisory lock keyed by the principal's id rather
than ``SELECT ... FOR UPDATE`` on the principal's row: the survivor and staff rows are also
locked by logins, PIN changes and session touches, in orders this module does not control, and
a login holding its row through a slow password check would stall every upload of that
survivor; an advisory lock touches no row, so it cannot take part in such a lock-order cycle,
needs no row at all (a decoy account is a principal too), and is released at commit or
rollback. SQLite needs nothing: its writers already run one at a time (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.clock import Clock
from core.db import is_postgres
from core.errors import TooManyRequests

# The first key of PostgreSQL's two-key advisory locks: the namespace of these locks, so that
# they never meet an advisory lock taken for another purpose.
_LOCK_SPACE = 0x4C4D4954  # "LMIT"


def serialise(session: Session, principal_id: uuid.UUID) -> None:
    """Hold back every other transaction counting for ``principal_id`` until this one ends."""
    if is_postgres(session):
        # Two ids sharing these 32 bits only wait for each other; the counts stay exact.
        key = int.from_bytes(principal_id.bytes[:4], "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(_LOCK_SPACE, key)))


def seconds_until_free(
    session: Session,
    clock: Clock,
    stamp: InstrumentedAttribute[dt.datetime],
    where: list[Any],
    *,
    limit: int,
    window: dt.timedelta,
) -> int | None:
    """None while fewer than ``limit`` rows matching ``where`` fall in the last ``window``;
    otherwise the whole seconds until enough of them have left it for one more."""
    now = clock.now()
    # The limit-th newest row in the window: once it leaves, only limit - 1 are left.
    nth = session.scalar(
        select(stamp)
        .where(*where, stamp > now - window)
        .order_by(stamp.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if nth is None:
        return None
    return max(1, math.ceil((nth + window - now).total_seconds()))


def require_slot(
    session: Session,
    clock: Clock,
    error: type[TooManyRequests],
    detail: str,
    stamp: InstrumentedAttribute[dt.datetime],
    where: list[Any],
    *,
    limit: int,
    window: dt.timedelta,
) -> None:
    """Raise ``error`` (429 with Retry-After) when the window holds ``limit`` rows already.

    Call after :func:`serialise` and before storing the new row.
    """
    wait = seconds_until_free(session, clock, stamp, where, limit=limit, window=window)
    if wait is not None:
        raise error(detail, retry_after=wait)


#: How the contract documents the header of a 429 refusal (``@blp.alt_response(headers=...)``).
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds until the limit frees a slot",
        "schema": {"type": "integer", "minimum": 1},
    }
}
