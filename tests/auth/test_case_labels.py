"""Case labels (issue 14): the advocate's name for a survivor's case, sealed, staff-only.

Set, read and clear through the API; sealed with the survivor's key and bound to her row;
written only through her caseload (never break-glass, another advocate, her app or an agency);
malformed input refused as a problem with nothing changed; audited without its text.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access import case_labels
from auth.access.models import BreakGlassGrant, CaseLabel, CaseloadEntry
from auth.access.permissions import SurvivorAccess
from auth.principals import StaffPrincipal, SurvivorPrincipal
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.crypto import Binding
from core.errors import CryptoError, Forbidden, InvalidInput, NotFound
from core.ids import new_id
from core.runtime import Runtime
from tests.factories import auth_header, make_agency, make_staff, make_survivor
from tests.json_client import JsonClient, JsonResponse
from web.problems import PROBLEM_MIME

LABEL = "Sam (Tuesday group) \u00e9\u00e8 \U0001f3e0"


def _url(survivor_id: object) -> str:
    return f"/v1/staff/survivors/{survivor_id}/case-label"


def _put(client: JsonClient, survivor_id: object, token: str, label: object) -> JsonResponse:
    return client.put(_url(survivor_id), json={"case_label": label}, headers=auth_header(token))


def _shown(client: JsonClient, survivor_id: object, token: str) -> object:
    r = client.get(f"/v1/staff/survivors/{survivor_id}", headers=auth_header(token))
    assert r.status_code == 200, r.json
    return r.json["case_label"]


def _stored(session: Session, survivor_id: uuid.UUID) -> CaseLabel | None:
    session.expire_all()
    return session.get(CaseLabel, survivor_id)


def _access(member: StaffMember, survivor_id: uuid.UUID, via: str = "caseload") -> SurvivorAccess:
    principal = StaffPrincipal(member.id, member.role, new_id(), None)
    return SurvivorAccess(survivor_id, via, principal)


def test_set_read_and_clear_through_the_api(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    other, _ = make_survivor(db_session, runtime, advocate=advocate)
    assert _shown(client, survivor.id, token) is None

    r = _put(client, survivor.id, token, f"  {LABEL}\t ")
    assert r.status_code == 200, r.json
    assert r.json == {"survivor_id": str(survivor.id), "case_label": LABEL}
    assert _shown(client, survivor.id, token) == LABEL
    items = client.get("/v1/staff/caseload", headers=auth_header(token)).json["items"]
    assert {i["survivor_id"]: i["case_label"] for i in items} == {
        str(survivor.id): LABEL,
        str(other.id): None,
    }
    row = _stored(db_session, survivor.id)
    assert row is not None
    assert (row.updated_by, row.updated_at) == (advocate.id, runtime.clock.now())

    assert _put(client, survivor.id, token, "Renamed").json["case_label"] == "Renamed"
    assert _shown(client, survivor.id, token) == "Renamed"
    for cleared in (None, "", "   "):
        assert _put(client, survivor.id, token, "Again").status_code == 200
        r = _put(client, survivor.id, token, cleared)
        assert r.status_code == 200
        assert r.json == {"survivor_id": str(survivor.id), "case_label": None}
        assert _shown(client, survivor.id, token) is None
        assert _stored(db_session, survivor.id) is None
    # Clearing what is not there is no error.
    assert _put(client, survivor.id, token, None).status_code == 200


def test_every_change_is_audited_without_the_text(
    client: JsonClient, db_session: Session, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, survivor_token = make_survivor(db_session, runtime, advocate=advocate)
    caplog.set_level(logging.DEBUG)
    _put(client, survivor.id, token, LABEL)
    _put(client, survivor.id, token, None)
    db_session.expire_all()
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("case_label.%")).order_by(AuditEvent.seq)
    ).all()
    assert [(e.action, e.actor_id, e.subject_id, e.survivor_id) for e in events] == [
        ("case_label.write", advocate.id, survivor.id, survivor.id),
        ("case_label.set", advocate.id, survivor.id, survivor.id),
        ("case_label.write", advocate.id, survivor.id, survivor.id),
        ("case_label.clear", advocate.id, survivor.id, survivor.id),
    ]
    assert all("Sam" not in repr(e.details) for e in events)
    assert "Sam" not in caplog.text
    # The survivor sees in her access log that her advocate named her case, not the name.
    log = client.get("/v1/survivor/access-log", headers=auth_header(survivor_token))
    assert {"case_label.set", "case_label.clear"} <= {e["action"] for e in log.json["items"]}
    assert b"Sam" not in log.data


def test_the_ciphertext_holds_no_text_and_opens_in_its_own_row_only(
    db_session: Session, runtime: Runtime
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    first, _ = make_survivor(db_session, runtime, advocate=advocate)
    second, _ = make_survivor(db_session, runtime, advocate=advocate)
    vault, clock = runtime.vault, runtime.clock
    case_labels.set_case_label(db_session, _access(advocate, first.id), clock, vault, label=LABEL)
    case_labels.set_case_label(db_session, _access(advocate, second.id), clock, vault, label="B")
    # The column as stored (a LargeBinary is handed back as the driver reads it).
    sealed = bytes(
        db_session.execute(
            select(CaseLabel.label_enc).where(CaseLabel.survivor_id == first.id)
        ).scalar_one()
    )
    for needle in (LABEL.encode(), b"Sam", b"Tuesday", LABEL.encode("utf-16-le")[:12]):
        assert needle not in sealed

    # Copied into the second survivor's row, the first label does not open (other row, other
    # owner, other data key); nor with its own binding under the second survivor's key.
    row = _stored(db_session, second.id)
    assert row is not None
    row.label_enc = sealed
    db_session.flush()
    with pytest.raises(CryptoError):
        case_labels.get_case_label(db_session, _access(advocate, second.id), vault)
    with pytest.raises(CryptoError):
        case_labels.case_labels(db_session, _principal(advocate), vault, survivor_ids=[second.id])
    found = case_labels.get_case_label(db_session, _access(advocate, first.id), vault)
    assert found is not None
    assert found.text == LABEL
    # Under her own key but made for another place (here, another row), it does not open
    # either: the associated data names the row.
    elsewhere = vault.seal(db_session, Binding("case_labels", "label_enc", new_id(), first.id), "Z")
    first_row = _stored(db_session, first.id)
    assert first_row is not None
    first_row.label_enc = elsewhere
    db_session.flush()
    with pytest.raises(CryptoError):
        case_labels.get_case_label(db_session, _access(advocate, first.id), vault)


def _principal(member: StaffMember) -> StaffPrincipal:
    return StaffPrincipal(member.id, member.role, new_id(), None)


def test_only_her_caseload_writes_it(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    _, other_token = make_staff(db_session, runtime)
    _, admin_token = make_staff(db_session, runtime, role="admin")
    _, pending_token = make_staff(db_session, runtime, enrolled=False)
    glass, glass_token = make_staff(db_session, runtime, role="supervisor")
    make_staff(db_session, runtime, role="supervisor")  # told of the break-glass
    survivor, survivor_token = make_survivor(db_session, runtime, advocate=advocate)
    _, partner_key = make_agency(db_session, runtime)
    now = runtime.clock.now()
    db_session.add(
        BreakGlassGrant(
            id=new_id(),
            supervisor_id=glass.id,
            survivor_id=survivor.id,
            reason_enc=b"\x00" * 48,  # never opened by the access check
            created_at=now,
            expires_at=now + dt.timedelta(hours=1),
        )
    )
    db_session.flush()
    assert _put(client, survivor.id, token, "Original").status_code == 200

    # Another advocate's survivor, or one that does not exist: the same 404.
    assert _put(client, survivor.id, other_token, "Mine now").status_code == 404
    assert _put(client, uuid.uuid4(), token, "Nobody").status_code == 404
    # Break-glass reads the label with the record, and cannot change it.
    assert _shown(client, survivor.id, glass_token) == "Original"
    assert _put(client, survivor.id, glass_token, "Supervisor was here").status_code == 404
    assert _put(client, survivor.id, glass_token, None).status_code == 404
    # The access rule refuses the wrong kind of caller before anything is read.
    for refused in (admin_token, pending_token, survivor_token, partner_key):
        r = _put(client, survivor.id, refused, "Refused")
        assert r.status_code == 403, r.json
        assert r.content_type == PROBLEM_MIME
    assert client.put(_url(survivor.id), json={"case_label": "Anon"}).status_code == 401
    assert _shown(client, survivor.id, token) == "Original"


def test_decoys_and_erased_survivors_are_nobodys_case(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    advocate, token = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    decoy = db_session.scalars(select(Survivor).where(Survivor.decoy_of == survivor.id)).one()
    # Even a caseload row that names the decoy (which nothing writes) gives no way in.
    db_session.add(
        CaseloadEntry(survivor_id=decoy.id, staff_id=advocate.id, assigned_at=runtime.clock.now())
    )
    db_session.flush()
    assert _put(client, decoy.id, token, "Decoy").status_code == 404
    with pytest.raises(NotFound):
        case_labels.set_case_label(
            db_session, _access(advocate, decoy.id), runtime.clock, runtime.vault, label="Decoy"
        )
    # A label sealed for the decoy by hand is still never read: not in the batch, not alone.
    sealed = runtime.vault.seal(db_session, case_labels.binding(decoy.id), "Decoy")
    db_session.add(
        CaseLabel(
            survivor_id=decoy.id,
            label_enc=sealed,
            updated_by=advocate.id,
            updated_at=runtime.clock.now(),
        )
    )
    assert _put(client, survivor.id, token, "Real").status_code == 200
    labels = case_labels.case_labels(
        db_session, _principal(advocate), runtime.vault, survivor_ids=[survivor.id, decoy.id]
    )
    assert labels == {survivor.id: "Real"}
    items = client.get("/v1/staff/caseload", headers=auth_header(token)).json["items"]
    assert [(i["survivor_id"], i["case_label"]) for i in items] == [(str(survivor.id), "Real")]
    assert (
        case_labels.get_case_label(db_session, _access(advocate, decoy.id), runtime.vault) is None
    )

    survivor.erased_at = runtime.clock.now()
    db_session.flush()
    assert _put(client, survivor.id, token, "Erased").status_code == 404
    assert (
        case_labels.case_labels(
            db_session, _principal(advocate), runtime.vault, survivor_ids=[survivor.id]
        )
        == {}
    )
    access = _access(advocate, survivor.id)
    assert case_labels.get_case_label(db_session, access, runtime.vault) is None
    assert client.get("/v1/staff/caseload", headers=auth_header(token)).json["items"] == []


def test_the_service_never_serves_a_survivor_nor_writes_through_break_glass(
    db_session: Session, runtime: Runtime
) -> None:
    """The views already refuse these; the service refuses them too, for a new caller."""
    advocate, _ = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    vault, clock = runtime.vault, runtime.clock
    case_labels.set_case_label(db_session, _access(advocate, survivor.id), clock, vault, label="X")
    own = SurvivorAccess(survivor.id, "self", SurvivorPrincipal(survivor.id, new_id(), False))
    with pytest.raises(Forbidden):
        case_labels.get_case_label(db_session, own, vault)
    with pytest.raises(Forbidden):
        case_labels.set_case_label(db_session, own, clock, vault, label="Mine")
    glass = _access(advocate, survivor.id, via="break_glass")
    with pytest.raises(NotFound):
        case_labels.set_case_label(db_session, glass, clock, vault, label="Glass")
    found = case_labels.get_case_label(db_session, glass, vault)
    assert found is not None
    assert found.text == "X"


def test_the_batch_reads_only_the_callers_own_cases(db_session: Session, runtime: Runtime) -> None:
    mine, _ = make_staff(db_session, runtime)
    theirs, _ = make_staff(db_session, runtime)
    a, _ = make_survivor(db_session, runtime, advocate=mine)
    b, _ = make_survivor(db_session, runtime, advocate=theirs)
    c, _ = make_survivor(db_session, runtime, advocate=mine)
    vault, clock = runtime.vault, runtime.clock
    case_labels.set_case_label(db_session, _access(mine, a.id), clock, vault, label="A")
    case_labels.set_case_label(db_session, _access(theirs, b.id), clock, vault, label="B")
    got = case_labels.case_labels(
        db_session, _principal(mine), vault, survivor_ids=[a.id, b.id, c.id, a.id, uuid.uuid4()]
    )
    assert got == {a.id: "A"}
    assert case_labels.case_labels(db_session, _principal(mine), vault, survivor_ids=[]) == {}


@pytest.mark.parametrize(
    "raw",
    [
        "A\x07bell",
        "two\nlines",
        "tab\tinside",
        "carriage\rreturn",
        "delete\x7f",
        "c1\x85next-line",
        "right-to-left \u202eoverride",
        "isolate \u2066x\u2069",
        "line\u2028separator",
        "lone \ud800 surrogate",
        "x" * (case_labels.LABEL_MAX + 1),
    ],
)
def test_clean_label_refuses_what_is_not_one_line_of_text(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        case_labels.clean_label(raw)
    assert list(refused.value.extra["errors"]) == ["case_label"]


def test_clean_label_keeps_text_as_typed() -> None:
    family = "\U0001f469\u200d\U0001f467"  # a zero-width joiner joins an emoji, it is text
    assert case_labels.clean_label(f" {family} ") == family
    assert case_labels.clean_label("e\u0301") == "\u00e9"  # composed (NFC)
    assert case_labels.clean_label("x" * case_labels.LABEL_MAX) == "x" * case_labels.LABEL_MAX
    # Trimmed first, then measured.
    assert case_labels.clean_label(" " + "y" * case_labels.LABEL_MAX + "\n") is not None
    assert case_labels.clean_label(" \n\t ") is None
    assert case_labels.clean_label(None) is None
