"""Staff notices: each staff member lists and marks read their own, and no one else's."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core import pages
from core.clock import FrozenClock
from core.notices import StaffNotice, notify_staff
from core.runtime import Runtime
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from tests.json_client import JsonClient


def _notify(db_session: Session, runtime: Runtime, recipient: uuid.UUID, kind: str) -> StaffNotice:
    return notify_staff(db_session, runtime.clock, [recipient], kind, urgency="high")[0]


def test_lists_own_notices_newest_first(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    me, token = make_staff(db_session, runtime)
    other, _ = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=me)
    older = notify_staff(
        db_session, clock, [me.id], "duress", urgency="urgent", survivor_id=survivor.id
    )[0]
    _notify(db_session, runtime, other.id, "not_mine")
    clock.advance(minutes=5)
    newer = _notify(db_session, runtime, me.id, "pin_guessing")
    r = client.get("/v1/staff/notices", headers=auth_header(token))
    assert r.status_code == 200
    assert [n["id"] for n in r.json["items"]] == [str(newer.id), str(older.id)]
    assert r.json["next_cursor"] is None
    first = r.json["items"][1]
    assert first == {
        "id": str(older.id),
        "kind": "duress",
        "urgency": "urgent",
        "survivor_id": str(survivor.id),
        "details": {},
        "created_at": older.created_at.isoformat(),
        "read_at": None,
    }


def test_mark_read_and_unread_filter(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    me, token = make_staff(db_session, runtime)
    a = _notify(db_session, runtime, me.id, "a")
    b = _notify(db_session, runtime, me.id, "b")
    headers = auth_header(token)
    r = client.post(f"/v1/staff/notices/{a.id}/read", headers=headers)
    assert r.status_code == 200
    assert r.json["read_at"] == clock.now().isoformat()
    unread = client.get("/v1/staff/notices?unread=true", headers=headers).json["items"]
    assert [n["id"] for n in unread] == [str(b.id)]
    everything = client.get("/v1/staff/notices", headers=headers).json["items"]
    assert {n["id"] for n in everything} == {str(a.id), str(b.id)}
    # Reading again keeps the first reading time.
    first_read = r.json["read_at"]
    clock.advance(minutes=3)
    again = client.post(f"/v1/staff/notices/{a.id}/read", headers=headers)
    assert again.status_code == 200
    assert again.json["read_at"] == first_read


def test_pages_with_a_cursor(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock
) -> None:
    me, token = make_staff(db_session, runtime)
    made = []
    for i in range(5):
        made.append(_notify(db_session, runtime, me.id, f"k{i}"))
        if i % 2:
            clock.advance(seconds=1)  # some share a timestamp: the id breaks the tie
    headers = auth_header(token)
    seen: list[str] = []
    url = "/v1/staff/notices?limit=2"
    pages = 0
    while True:
        page = client.get(url, headers=headers)
        assert page.status_code == 200
        seen.extend(n["id"] for n in page.json["items"])
        pages += 1
        if page.json["next_cursor"] is None:
            break
        url = f"/v1/staff/notices?limit=2&cursor={page.json['next_cursor']}"
    assert pages == 3
    assert sorted(seen) == sorted(str(n.id) for n in made)
    assert len(set(seen)) == 5
    stamps = [next(n.created_at for n in made if str(n.id) == nid) for nid in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_another_staff_members_notice_is_404(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    _me, token = make_staff(db_session, runtime)
    other, other_token = make_staff(db_session, runtime)
    theirs = _notify(db_session, runtime, other.id, "theirs")
    r = client.post(f"/v1/staff/notices/{theirs.id}/read", headers=auth_header(token))
    assert r.status_code == 404
    # Their notice cannot be used as my cursor either.
    cursor = pages.encode(pages.Position(theirs.created_at, theirs.id))
    r = client.get(f"/v1/staff/notices?cursor={cursor}", headers=auth_header(token))
    assert r.status_code == 404
    db_session.refresh(theirs)
    assert theirs.read_at is None
    mine = client.get("/v1/staff/notices", headers=auth_header(other_token)).json["items"]
    assert mine[0]["read_at"] is None


def test_notices_are_for_fully_signed_in_staff(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    pending, pending_token = make_staff(db_session, runtime, enrolled=False)
    notice = _notify(db_session, runtime, pending.id, "x")
    _, survivor = make_survivor(db_session, runtime)
    _, partner = make_agency(db_session, runtime)
    for token in (pending_token, survivor, partner):
        assert client.get("/v1/staff/notices", headers=auth_header(token)).status_code == 403
        r = client.post(f"/v1/staff/notices/{notice.id}/read", headers=auth_header(token))
        assert r.status_code == 403
    assert client.get("/v1/staff/notices").status_code == 401


def test_query_is_validated(client: JsonClient, db_session: Session, runtime: Runtime) -> None:
    _, token = make_staff(db_session, runtime)
    for query in (
        "limit=0",
        "limit=101",
        "limit=2.5",
        "cursor=nope",
        "unread=maybe",
    ):
        r = client.get(f"/v1/staff/notices?{query}", headers=auth_header(token))
        assert r.status_code == 422, query
