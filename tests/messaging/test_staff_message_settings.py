"""``GET /v1/staff/survivors/{id}/messages/settings``: the survivor's conversation settings as
staff read them (the console's Messages tab shows them), behind the conversation's own checks."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.clock import FrozenClock
from core.runtime import Runtime
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient


def test_staff_read_the_survivors_settings_behind_step_up_and_caseload(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    advocate, token = make_staff(db_session, runtime)
    _other, other_token = make_staff(db_session, runtime)
    survivor, survivor_token = make_survivor(db_session, runtime, advocate)
    db_session.commit()
    mine = auth_header(survivor_token)
    path = f"/v1/staff/survivors/{survivor.id}/messages/settings"
    r = client.get(path, headers=auth_header(token))
    assert r.status_code == 200
    assert r.json == {"disappear_after": "off", "reply_by_sms": False}
    changed = client.put(
        "/v1/survivor/messages/settings",
        json={"disappear_after": "7d", "reply_by_sms": True},
        headers=mine,
    )
    assert changed.status_code == 200
    assert client.get(path, headers=auth_header(token)).json == {
        "disappear_after": "7d",
        "reply_by_sms": True,
    }
    # Staff read and never write them; another advocate's survivor is not there at all.
    assert (
        client.put(path, json={"disappear_after": "off"}, headers=auth_header(token)).status_code
        == 405
    )
    assert client.get(path, headers=auth_header(other_token)).status_code == 404
    assert client.get(path, headers=mine).status_code == 403
    clock.advance(minutes=16)
    lapsed = client.get(path, headers=auth_header(token))
    assert lapsed.status_code == 401
    assert lapsed.json["type"].endswith("step-up-required")
