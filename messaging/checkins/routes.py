"""Check-in endpoints: thin views over messaging.checkins.service."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER, SURVIVOR
from messaging.checkins import schemas, service
from messaging.checkins.deps import CheckinDeps
from messaging.checkins.templates import TEMPLATES
from web.access import allow, current_principal
from web.db import runtime, session

blp = Blueprint("checkins", __name__, description="Discreet check-ins and escalations")


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/settings")
class Settings(MethodView):
    @blp.response(200, schemas.SettingsSchema)
    def get(self) -> Any:
        """The survivor's check-in settings (reply codes are never shown back)."""
        return service.get_settings(session(), runtime(), current_principal())

    @blp.arguments(schemas.SettingsUpdateSchema)
    @blp.response(200, schemas.SettingsSchema)
    def put(self, data: dict[str, Any]) -> Any:
        """Change grace, reply codes, quiet windows, time zone, pause, welfare agency."""
        return service.update_settings(session(), runtime(), current_principal(), data)


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/templates")
class Templates(MethodView):
    @blp.response(200, schemas.TemplateSchema(many=True))
    def get(self) -> Any:
        """The neutral texts a check-in SMS can wear."""
        return [{"id": k, "text": v} for k, v in TEMPLATES.items()]


@allow(SURVIVOR)
@blp.route("/survivor/check-ins")
class Schedules(MethodView):
    @blp.response(200, schemas.ScheduleSchema(many=True))
    def get(self) -> Any:
        """Active check-in schedules."""
        return service.list_schedules(session(), runtime(), current_principal())

    @blp.arguments(schemas.ScheduleCreateSchema)
    @blp.response(201, schemas.ScheduleSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Schedule a one-off or recurring check-in."""
        return service.create_schedule(session(), runtime(), current_principal(), data)


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/<uuid:schedule_id>")
class Schedule(MethodView):
    @blp.response(204)
    def delete(self, schedule_id: uuid.UUID) -> None:
        """Stop a schedule; its waiting occurrences are cancelled."""
        service.cancel_schedule(session(), runtime(), current_principal(), schedule_id)


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/pending")
class Pending(MethodView):
    @blp.response(200, schemas.OccurrenceSchema(many=True))
    def get(self) -> Any:
        """Check-ins waiting for an answer (the app shows these)."""
        return service.pending(session(), runtime(), current_principal())


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/occurrences/<uuid:occurrence_id>/answer")
class Answer(MethodView):
    @blp.arguments(schemas.AnswerSchema)
    @blp.response(200, schemas.OccurrenceSchema)
    def post(self, data: dict[str, Any], occurrence_id: uuid.UUID) -> Any:
        """Answer a check-in in the app: safe, or help (help escalates at once)."""
        rt = runtime()
        return service.answer(
            session(),
            rt,
            current_principal(),
            occurrence_id,
            data["answer"],
            sms=rt.collaborators.need(CheckinDeps).sms,
        )


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/occurrences/<uuid:occurrence_id>/snooze")
class Snooze(MethodView):
    @blp.arguments(schemas.SnoozeSchema)
    @blp.response(200, schemas.OccurrenceSchema)
    def post(self, data: dict[str, Any], occurrence_id: uuid.UUID) -> Any:
        """Push one check-in (and its grace period) later."""
        return service.snooze(
            session(), runtime(), current_principal(), occurrence_id, data["minutes"]
        )


@allow(SURVIVOR)
@blp.route("/survivor/check-ins/safe-now")
class SafeNow(MethodView):
    @blp.response(200, schemas.SafeNowSchema)
    def post(self) -> Any:
        """ "I am safe now": answers every waiting check-in."""
        return service.safe_now(session(), runtime(), current_principal())


@allow(CASEWORKER)
@blp.route("/staff/escalations")
class Queue(MethodView):
    @blp.arguments(schemas.QueueQuerySchema, location="query")
    @blp.response(200, schemas.EscalationSchema(many=True))
    def get(self, query: dict[str, Any]) -> Any:
        """The escalation queue for my caseload, most urgent first."""
        return service.escalation_queue(
            session(), runtime(), current_principal(), query["include_resolved"]
        )


@allow(CASEWORKER)
@blp.route("/staff/escalations/<uuid:escalation_id>/acknowledge")
class Acknowledge(MethodView):
    @blp.response(200, schemas.EscalationSchema)
    def post(self, escalation_id: uuid.UUID) -> Any:
        """I am on it: stops the partner step."""
        return service.acknowledge(session(), runtime(), current_principal(), escalation_id)


@allow(CASEWORKER)
@blp.route("/staff/escalations/<uuid:escalation_id>/resolve")
class Resolve(MethodView):
    @blp.arguments(schemas.ResolveSchema)
    @blp.response(200, schemas.EscalationSchema)
    def post(self, data: dict[str, Any], escalation_id: uuid.UUID) -> Any:
        """Close an escalation with an (encrypted) note."""
        return service.resolve(
            session(), runtime(), current_principal(), escalation_id, data["note"]
        )
