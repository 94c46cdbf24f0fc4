"""Property: any sequence of status callbacks ends where the forward-only model says.

The model: the first terminal status (delivered, failed, undelivered) wins and nothing moves
it; before that, the highest-ranked status seen stands. Failure hooks fire once at most, and
exactly when the end state is a failure.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.runtime import Runtime
from messaging.models import OutboundSms
from messaging.sms import sending
from messaging.sms.deps import SmsDeps
from messaging.sms.gateway import ConsoleSmsGateway
from tests.factories import make_survivor

STATUSES = list(sending.RANK)


def _model(seq: list[str]) -> str:
    state = sending.QUEUED
    for s in seq:
        if state in sending.FINAL:
            break
        if sending.RANK[s] > sending.RANK[state]:
            state = s
    return state


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(seq=st.lists(st.sampled_from(STATUSES), max_size=8))
def test_any_sequence_ends_in_the_model_state(
    db_session: Session, runtime: Runtime, seq: list[str]
) -> None:
    survivor, _ = make_survivor(db_session, runtime)
    row = sending.queue_sms(
        db_session,
        runtime.clock,
        runtime.vault,
        to_e164="+14155550111",
        body="x",
        purpose="check_in",
        survivor_id=survivor.id,
    )
    row.provider_sid = "SM" + uuid.uuid4().hex
    calls: list[Any] = []
    deps = SmsDeps(ConsoleSmsGateway(echo=False), runtime.vault, redact=False)
    deps.failure_listeners.register("test.calls", lambda *a: calls.append(a[2]))
    for status in seq:
        sending.advance_status(db_session, runtime.clock, deps, row, status)
    fresh = db_session.get(OutboundSms, row.id)
    assert fresh is not None
    expected = _model(seq)
    assert fresh.status == expected
    assert calls == ([row.id] if expected in (sending.FAILED, sending.UNDELIVERED) else [])
