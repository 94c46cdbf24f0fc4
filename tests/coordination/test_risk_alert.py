"""A DASH result at the highest band reaches the agencies whose consent covers risk levels."""

from __future__ import annotations

from sqlalchemy import select

from api.registry import job_registry
from coordination.models import Alert, Delivery
from core.worker import Worker
from tests.coordination.conftest import World
from tests.factories import auth_header
from tests.json_client import JsonClient
from tests.safety_plans.test_instruments import dash_answers


def _run(world: World) -> None:
    worker = Worker(
        world.runtime.session_factory,
        job_registry(world.runtime),
        world.clock,
    )
    for _ in range(10):
        if worker.run_once() == 0:
            break


def test_high_risk_assessment_raises_a_consented_risk_level_alert_once(
    client: JsonClient, world: World
) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.consent(world.police, ["risk_level"])
    world.consent(world.refuge, ["welfare_check"])  # covers other kinds only
    world.session.commit()
    r = client.post(
        "/v1/survivor/assessments",
        json={"instrument_id": "dash", "answers": dash_answers(14)},
        headers=auth_header(world.survivor_token),
    )
    assert r.status_code == 201, r.json
    _run(world)
    _run(world)  # a second pass adds nothing
    world.session.expire_all()
    [alert] = world.session.scalars(select(Alert).where(Alert.kind == "risk_level")).all()
    deliveries = world.session.scalars(select(Delivery).where(Delivery.alert_id == alert.id)).all()
    assert [d.agency_id for d in deliveries] == [world.police.id]
    assert len(world.sender.sent) == 1


def test_lower_results_raise_no_alert(client: JsonClient, world: World) -> None:
    world.consent(world.police, ["risk_level"])
    world.session.commit()
    r = client.post(
        "/v1/survivor/assessments",
        json={"instrument_id": "dash", "answers": dash_answers(13)},
        headers=auth_header(world.survivor_token),
    )
    assert r.status_code == 201
    _run(world)
    world.session.expire_all()
    assert world.session.scalars(select(Alert).where(Alert.kind == "risk_level")).all() == []
