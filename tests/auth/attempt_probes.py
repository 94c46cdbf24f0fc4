"""What the attempt counters say about one subject, read from outside (``auth.attempts``).

The services name their subjects (``survivor:<owner id>``, ``staff:<email>``, the client
address...); these helpers find the row they counted under, so that a test can assert the count
and the lock without reaching into a service.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from auth import attempts
from auth.deps import AttemptDeps
from auth.models import AttemptCounter
from core.runtime import Runtime
from tests.factories import auth_deps


def survivor_subject(owner_id: uuid.UUID) -> str:
    """The one key a survivor's PIN is guessed under: login and every in-session check."""
    return f"survivor:{owner_id}"


def counters(runtime: Runtime) -> AttemptDeps:
    """What the attempt functions take besides a session and a clock, as the app wires it."""
    return auth_deps(runtime).attempts


def counter_key(runtime: Runtime, policy: attempts.AttemptPolicy, subject: str) -> str:
    """The documented key: a keyed digest (index key) of the policy and the subject."""
    return runtime.keyring.keyed_digest("attempts", f"{policy.name}\x00{subject}")


def counter(
    runtime: Runtime, session: Session, policy: attempts.AttemptPolicy, subject: str
) -> AttemptCounter | None:
    """The counter row as committed (or flushed) now; None when nothing is counted."""
    return session.get(
        AttemptCounter, counter_key(runtime, policy, subject), populate_existing=True
    )


def count(runtime: Runtime, session: Session, policy: attempts.AttemptPolicy, subject: str) -> int:
    row = counter(runtime, session, policy, subject)
    return 0 if row is None else row.attempts


def pin_count(runtime: Runtime, session: Session, owner_id: uuid.UUID) -> int:
    return count(runtime, session, attempts.SURVIVOR_PIN, survivor_subject(owner_id))


def retry_after(
    runtime: Runtime, session: Session, policy: attempts.AttemptPolicy, subject: str
) -> float:
    """Seconds until ``subject`` may be tried again under ``policy`` (0 when it may now)."""
    return attempts.retry_after(session, runtime.clock, counters(runtime), policy, subject)


def pin_retry_after(runtime: Runtime, session: Session, owner_id: uuid.UUID) -> float:
    return retry_after(runtime, session, attempts.SURVIVOR_PIN, survivor_subject(owner_id))
