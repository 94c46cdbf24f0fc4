"""Check-in endpoints: thin views over messaging.checkins.service."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from auth.access.permissions import CASEWORKER, SURVIVOR, SurvivorAccess, require_staff_access
from auth.principals import StaffPrincipal, SurvivorPrincipal
from core.runtime import Runtime
from messaging.checkins import schemas, service
from messaging.checkins.deps import CheckinDeps
from messaging.checkins.escalation import EscalationView
from messaging.checkins.templates import TEMPLATES
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusals

blp = Blueprint("checkins", __name__, description="Discreet check-ins and escalations")


def _me() -> SurvivorPrincipal:
    """The survivor (or a duress session, on its decoy account) acting on her own check-ins."""
    return admitted(SurvivorPrincipal)


def _deps() -> CheckinDeps:
    return runtime().collaborators.need(CheckinDeps)


def _escalation_access(
    escalation_id: uuid.UUID, action: str
) -> tuple[Session, Runtime, SurvivorAccess]:
    """An advocate or supervisor reaching the survivor an escalation is about, to act on it:
    404 for no such escalation, then ``require_staff_access`` (caseload only, as a write;
    audited naming the escalation)."""
    s, rt = session(), runtime()
    survivor_id = service.escalation_survivor(s, escalation_id)
    access = require_staff_access(
        s,
        rt.clock,
        admitted(StaffPrincipal),
        survivor_id,
        action=action,
        write=True,
        subject_kind="escalation",
        subject_id=escalation_id,
    )
    return s, rt, access


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/settings")
class Settings(MethodView):
    @blp.response(200, schemas.SettingsSchema)
    def get(self) -> service.SettingsView:
        """The survivor's check-in settings (reply codes are never shown back)."""
        return service.get_settings(session(), _me(), runtime().clock, _deps())

    @blp.arguments(schemas.SettingsUpdateSchema)
    @blp.response(200, schemas.SettingsSchema)
    def put(self, data: service.SettingsUpdate) -> service.SettingsView:
        """Change grace, reply codes, quiet windows, time zone, pause, welfare agency."""
        rt = runtime()
        return service.update_settings(session(), _me(), rt.clock, rt.keyring, _deps(), change=data)


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/templates")
class Templates(MethodView):
    @blp.response(200, schemas.TemplateSchema(many=True))
    def get(self) -> list[dict[str, str]]:
        """The neutral texts a check-in SMS can wear."""
        return [{"id": k, "text": v} for k, v in TEMPLATES.items()]


@allow(SURVIVOR)
@blp.route("/survivor/check-ins")
class Schedules(MethodView):
    @blp.response(200, schemas.ScheduleSchema(many=True))
    def get(self) -> list[service.ScheduleView]:
        """Active check-in schedules."""
        return service.list_schedules(session(), _me())

    @blp.arguments(schemas.ScheduleCreateSchema)
    @blp.response(201, schemas.ScheduleSchema)
    def post(self, data: service.ScheduleRequest) -> service.ScheduleView:
        """Schedule a one-off or recurring check-in."""
        return service.create_schedule(session(), _me(), runtime().clock, _deps(), request=data)


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/<uuid:schedule_id>")
class Schedule(MethodView):
    @blp.response(204)
    def delete(self, schedule_id: uuid.UUID) -> None:
        """Stop a schedule; its waiting occurrences are cancelled."""
        service.cancel_schedule(session(), _me(), runtime().clock, schedule_id=schedule_id)


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/pending")
class Pending(MethodView):
    @blp.response(200, schemas.OccurrenceSchema(many=True))
    def get(self) -> list[service.OccurrenceView]:
        """Check-ins waiting for an answer (the app shows these)."""
        return service.pending(session(), _me())


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/occurrences/<uuid:occurrence_id>/answer")
class Answer(MethodView):
    @blp.arguments(schemas.AnswerSchema)
    @blp.response(200, schemas.OccurrenceSchema)
    def post(self, data: dict[str, Any], occurrence_id: uuid.UUID) -> service.OccurrenceView | None:
        """Answer a check-in in the app: safe, or help (help escalates at once)."""
        return service.answer(
            session(),
            _me(),
            runtime().clock,
            _deps(),
            occurrence_id=occurrence_id,
            kind=data["answer"],
        )


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/occurrences/<uuid:occurrence_id>/snooze")
class Snooze(MethodView):
    @blp.arguments(schemas.SnoozeSchema)
    @blp.response(200, schemas.OccurrenceSchema)
    def post(self, data: dict[str, Any], occurrence_id: uuid.UUID) -> service.OccurrenceView:
        """Push one check-in (and its grace period) later."""
        return service.snooze(
            session(), _me(), runtime().clock, occurrence_id=occurrence_id, minutes=data["minutes"]
        )


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/safe-now")
class SafeNow(MethodView):
    @blp.response(200, schemas.SafeNowSchema)
    def post(self) -> service.Answered:
        """ "I am safe now": answers every waiting check-in."""
        return service.safe_now(session(), _me(), runtime().clock)


@allow(CASEWORKER)
@blp.route("/staff/escalations")
class Queue(MethodView):
    @blp.arguments(schemas.QueueQuerySchema, location="query")
    @blp.response(200, schemas.EscalationSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[EscalationView]:
        """The escalation queue for my caseload, most urgent first."""
        return service.escalation_queue(
            session(),
            admitted(StaffPrincipal),
            _deps(),
            include_resolved=query["include_resolved"],
        )


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>/check-ins")
class StaffCheckins(MethodView):
    @blp.response(200, schemas.StaffCheckinsSchema)
    @refusals(blp, 404)
    def get(self, survivor_id: uuid.UUID) -> service.StaffCheckinsView:
        """The survivor's check-in schedules and latest occurrences, with their states.

        Read only, for staff on the survivor's caseload or with a break-glass grant; never the
        survivor's own SMS text, reply codes or quiet windows."""
        s, rt = session(), runtime()
        access = require_staff_access(
            s, rt.clock, admitted(StaffPrincipal), survivor_id, action=service.STAFF_READ
        )
        return service.staff_checkins(s, access)


@allow(CASEWORKER)
@blp.route("/staff/escalations/<uuid:escalation_id>/acknowledge")
class Acknowledge(MethodView):
    @blp.response(200, schemas.EscalationSchema)
    def post(self, escalation_id: uuid.UUID) -> EscalationView:
        """I am on it: stops the partner step."""
        s, rt, access = _escalation_access(escalation_id, "escalation.acknowledge")
        return service.acknowledge(s, access, rt.clock, _deps(), escalation_id=escalation_id)


@allow(CASEWORKER)
@blp.route("/staff/escalations/<uuid:escalation_id>/resolve")
class Resolve(MethodView):
    @blp.arguments(schemas.ResolveSchema)
    @blp.response(200, schemas.EscalationSchema)
    def post(self, data: dict[str, Any], escalation_id: uuid.UUID) -> EscalationView:
        """Close an escalation with an (encrypted) note."""
        s, rt, access = _escalation_access(escalation_id, "escalation.resolve")
        return service.resolve(
            s, access, rt.clock, _deps(), escalation_id=escalation_id, note=data["note"]
        )
