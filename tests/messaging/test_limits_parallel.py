"""Messages a minute hold under a burst of parallel sends on real connections (see
tests/safety_plans/test_limits_parallel.py for why this is the test that matters)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from messaging.models import ConversationMessage
from tests.factories import auth_header, make_staff, make_survivor
from tests.refusals import burst
from tests.safety_plans.test_limits_parallel import AppFactory, committed_app, survivor_app

__all__ = ["committed_app"]  # the fixture, shared


def _stored(runtime: Any, *where: Any) -> int:
    with runtime.session_factory() as s:
        stmt = select(func.count()).select_from(ConversationMessage).where(*where)
        return int(s.scalar(stmt) or 0)


def test_a_burst_of_survivor_messages_stores_no_more_than_the_limit(
    committed_app: AppFactory,
) -> None:
    app, runtime, survivor_id, h = survivor_app(committed_app, survivor_messages_per_minute=5)
    send = lambda c: c.post("/v1/survivor/messages", json={"body": "quick"}, headers=h)  # noqa: E731
    assert burst(app, [send] * 12) == [201] * 5 + [429] * 7
    assert _stored(runtime, ConversationMessage.survivor_id == survivor_id) == 5


def test_a_burst_of_staff_messages_to_many_survivors_stores_no_more_than_the_limit(
    committed_app: AppFactory,
) -> None:
    app, runtime = committed_app(staff_messages_per_minute=5)
    with runtime.session_factory() as s:
        advocate, token = make_staff(s, runtime)
        survivors = [make_survivor(s, runtime, advocate=advocate)[0] for _ in range(3)]
        s.commit()
    h = auth_header(token)

    def send(n: int) -> Any:
        path = f"/v1/staff/survivors/{survivors[n % 3].id}/messages"
        return lambda c: c.post(path, json={"body": f"note {n}"}, headers=h)

    assert burst(app, [send(n) for n in range(12)]) == [201] * 5 + [429] * 7
    assert _stored(runtime, ConversationMessage.sender_staff_id == advocate.id) == 5
