"""Assessments over HTTP: sealed history, referral -> MARAC eligibility + urgent notice job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from api.wiring import wire
from core.clock import FrozenClock
from core.hooks import Collaborators
from core.jobs import Job, JobRegistry
from core.notices import StaffNotice
from core.runtime import Runtime
from core.worker import Worker
from safety_plans import assessments
from safety_plans.wiring import register_jobs
from tests.decoy_exits import Exits, assert_only_the_alarm_left, run_all_jobs
from tests.factories import auth_header, make_agency
from tests.json_client import JsonClient
from tests.safety_plans.conftest import Party
from tests.safety_plans.test_instruments import dash_answers, lap_answers

MINE = "/v1/survivor/assessments"


def _staff(party: Party) -> str:
    return f"/v1/staff/survivors/{party.survivor.id}"


def _alert_jobs(db_session: Session) -> list[Job]:
    return list(db_session.scalars(select(Job).where(Job.kind == assessments.RISK_ALERT_JOB)).all())


def _run_my_jobs(runtime: Runtime) -> int:
    registry = JobRegistry()
    wiring = wire(runtime)
    register_jobs(registry, wiring.safety_plans, wiring.hooks.high_risk)
    worker = Worker(runtime.session_factory, registry, runtime.clock)
    return worker.run_once()


def test_instruments_are_listed_for_survivor_and_staff_not_partners(
    client: JsonClient, party: Party, db_session: Session, runtime: Runtime
) -> None:
    r = client.get("/v1/instruments", headers=party.survivor_headers)
    assert {i["id"] for i in r.json["instruments"]} == {"dash", "lethality_screen"}
    one = client.get("/v1/instruments/dash", headers=party.advocate_headers)
    assert one.status_code == 200
    assert len(one.json["items"]) == 25
    assert client.get("/v1/instruments/nope", headers=party.advocate_headers).status_code == 404
    _agency, key = make_agency(db_session, runtime)
    db_session.commit()
    assert client.get("/v1/instruments", headers=auth_header(key)).status_code == 403


def test_survivor_takes_dash_13_no_alert(
    client: JsonClient, party: Party, db_session: Session
) -> None:
    r = client.post(
        MINE,
        json={"instrument_id": "dash", "answers": dash_answers(13)},
        headers=party.survivor_headers,
    )
    assert r.status_code == 201, r.json
    assert r.json["result"]["band"] == "medium"
    assert r.json["taken_by"] == "survivor"
    assert _alert_jobs(db_session) == []
    marac = client.get(_staff(party) + "/marac-eligibility", headers=party.advocate_headers).json
    assert marac["eligible"] is False


def test_highest_band_marks_marac_and_alerts_advocate_urgently(
    client: JsonClient, party: Party, db_session: Session, runtime: Runtime
) -> None:
    r = client.post(
        MINE,
        json={"instrument_id": "dash", "answers": dash_answers(14)},
        headers=party.survivor_headers,
    )
    assert r.status_code == 201
    assert r.json["result"]["highest_band"] is True
    jobs = _alert_jobs(db_session)
    assert len(jobs) == 1
    assert jobs[0].payload["assessment_id"] == r.json["id"]
    marac = client.get(_staff(party) + "/marac-eligibility", headers=party.advocate_headers).json
    assert marac["eligible"] is True
    assert marac["assessment_id"] == r.json["id"]
    assert _run_my_jobs(runtime) >= 1
    notices = db_session.scalars(
        select(StaffNotice).where(StaffNotice.survivor_id == party.survivor.id)
    ).all()
    assert [(n.recipient_id, n.kind, n.urgency) for n in notices] == [
        (party.advocate.id, assessments.RISK_NOTICE_KIND, "urgent")
    ]
    assert notices[0].details == {"assessment_id": r.json["id"]}  # ids only, no answers


def test_advocate_with_survivor_professional_judgement_and_history(
    client: JsonClient, party: Party, db_session: Session, clock: FrozenClock
) -> None:
    r = client.post(
        _staff(party) + "/assessments",
        json={
            "instrument_id": "dash",
            "answers": dash_answers(3),
            "professional_judgement": "high",
            "notes": "Strangled last month; she fears for the children.",
        },
        headers=party.advocate_headers,
    )
    assert r.status_code == 201, r.json
    assert r.json["taken_by"] == "advocate"
    assert r.json["result"]["raised_by_judgement"] is True
    assert r.json["result"]["band"] == "high"
    assert len(_alert_jobs(db_session)) == 1
    # The survivor cannot record professional judgement (not even in the body).
    mine = client.post(
        MINE,
        json={
            "instrument_id": "dash",
            "answers": dash_answers(3),
            "professional_judgement": "high",
        },
        headers=party.survivor_headers,
    )
    assert mine.status_code == 422
    clock.advance(minutes=5)
    client.post(
        MINE,
        json={"instrument_id": "lethality_screen", "answers": lap_answers()},
        headers=party.survivor_headers,
    )
    history = client.get(MINE, headers=party.survivor_headers).json["assessments"]
    assert [a["instrument_id"] for a in history] == ["lethality_screen", "dash"] or len(
        history
    ) == 2
    one = client.get(f"{MINE}/{r.json['id']}", headers=party.survivor_headers)
    assert one.json["notes"] == "Strangled last month; she fears for the children."
    assert one.json["answers"]["q1"] == "yes"
    assert one.json["professional_judgement"] == "high"
    staff_history = client.get(_staff(party) + "/assessments", headers=party.advocate_headers)
    assert len(staff_history.json["assessments"]) == 2
    client.patch(
        "/v1/survivor/advocate-sharing", json={"plan_shared": False}, headers=party.survivor_headers
    )
    assert (
        client.get(_staff(party) + "/assessments", headers=party.advocate_headers).status_code
        == 404
    )


def test_invalid_answers_are_422(client: JsonClient, party: Party) -> None:
    bad = dash_answers(3) | {"q1": "perhaps"}
    r = client.post(
        MINE, json={"instrument_id": "dash", "answers": bad}, headers=party.survivor_headers
    )
    assert r.status_code == 422
    assert "q1" in r.json["errors"]["answers"]
    r = client.post(
        MINE, json={"instrument_id": "nope", "answers": {}}, headers=party.survivor_headers
    )
    assert r.status_code == 404


def test_decoy_session_assessment_is_kept_in_the_decoy_and_alerts_nobody(
    client: JsonClient, party: Party, db_session: Session, runtime: Runtime
) -> None:
    real = client.post(
        MINE,
        json={"instrument_id": "dash", "answers": dash_answers(2)},
        headers=party.survivor_headers,
    )
    d = party.decoy_headers
    # The decoy has an agency it consented to tell its risk level, so an alert would have
    # somewhere to go if the exits let it.
    agency, _key = make_agency(db_session, runtime)
    db_session.commit()
    ask = {"agency_id": str(agency.id), "kinds": ["risk_level"], "purpose": "MARAC"}
    terms = client.post("/v1/survivor/consents/preview", json=ask, headers=d).json
    give = ask | {"expires_at": terms["expires_at"], "text_hash": terms["text_hash"]}
    assert client.post("/v1/survivor/consents", json=give, headers=d).status_code == 201
    exits = Exits.take(db_session, runtime)

    r = client.post(MINE, json={"instrument_id": "dash", "answers": dash_answers(20)}, headers=d)
    assert r.status_code == 201
    assert r.json["result"]["band"] == "high"
    assert set(r.json) == set(real.json)
    # It reads back in the decoy as it would in a real account; the real history is not
    # shown there, and is untouched.
    assert client.get(MINE, headers=d).json == {"assessments": [r.json]}
    assert client.get(f"{MINE}/{r.json['id']}", headers=d).json == r.json
    assert client.get(f"{MINE}/{real.json['id']}", headers=d).status_code == 404
    mine = client.get(MINE, headers=party.survivor_headers).json["assessments"]
    assert [a["id"] for a in mine] == [real.json["id"]]
    marac = client.get(_staff(party) + "/marac-eligibility", headers=party.advocate_headers).json
    assert marac["eligible"] is False
    # The referral it queued runs, and reaches no advocate and no agency.
    assert len(_alert_jobs(db_session)) == 1
    run_all_jobs(runtime)
    assert_only_the_alarm_left(db_session, runtime, exits, party.survivor.id)


def test_weighted_instrument_loaded_from_settings_directory(runtime: Runtime, party: Party) -> None:
    extra = Path(__file__).resolve().parent / "instruments"
    rt = Runtime(
        **{
            **runtime.__dict__,
            "settings": runtime.settings.replace(extra_instruments_path=str(extra)),
            "collaborators": Collaborators(),
        }
    )
    app: Flask = create_app(rt.settings, runtime=rt)
    client = JsonClient(app)
    answers: dict[str, Any] = {
        "w4": "yes",
        "w3a": "yes",
        "w3b": "yes",
        "w2": "no",
        "w1a": "no",
        "w1b": "no",
        "w1c": "no",
        "times": 4,
        "w_neg": "yes",
    }
    r = client.post(
        MINE,
        json={"instrument_id": "weighted_test", "answers": answers},
        headers=party.survivor_headers,
    )
    assert r.status_code == 201, r.json
    assert r.json["result"]["score"] == 18
    assert r.json["result"]["band"] == "extreme"


def test_a_bad_instrument_file_stops_the_app_at_start(runtime: Runtime, tmp_path: Path) -> None:
    import pytest

    from core.errors import ConfigurationError

    (tmp_path / "broken.json").write_text('{"id": "broken"}')
    settings = runtime.settings.replace(extra_instruments_path=str(tmp_path))
    rt = Runtime(**{**runtime.__dict__, "settings": settings, "collaborators": Collaborators()})
    with pytest.raises(ConfigurationError, match=r"broken\.json"):
        create_app(settings, runtime=rt)
