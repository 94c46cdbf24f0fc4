"""Staff console: conversations with the survivors on my caseload."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER
from auth.principals import StaffPrincipal
from core.pages import Page
from messaging import service
from messaging.routes.common import staff_access
from messaging.schemas import (
    MessagePageArgsSchema,
    MessageSettingsSchema,
    MessagesReadSchema,
    MessagesUnreadSchema,
    SendMessageSchema,
    StaffMessageSchema,
    StaffPageSchema,
    StaffUnreadSchema,
)
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal, refusals

blp = Blueprint("messaging_staff", __name__, description="Staff console: survivor conversations")


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>/messages")
class StaffMessages(MethodView):
    @blp.arguments(MessagePageArgsSchema, location="query")
    @blp.response(200, StaffPageSchema)
    @refusals(blp, 401, 403, 404)
    def get(self, args: dict[str, Any], survivor_id: uuid.UUID) -> Page[service.StaffMessage]:
        """The survivor's conversation, newest first, with receipts (step-up within 15 min)."""
        s, rt, access = staff_access(survivor_id, "messages.read")
        return service.staff_list(
            s, access, rt.clock, rt.vault, after=args.get("cursor"), limit=args["limit"]
        )

    @blp.arguments(SendMessageSchema)
    @blp.response(201, StaffMessageSchema)
    @refusals(blp, 401, 403, 404)
    @refusal(blp, 429)
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> service.StaffMessage:
        """Send the survivor a message (they get a neutral push, never the text)."""
        s, rt, access = staff_access(survivor_id, "messages.send", write=True)
        return service.staff_send(
            s,
            access,
            rt.clock,
            rt.vault,
            body=data["body"],
            per_minute=rt.settings.staff_messages_per_minute,
        )


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>/messages/read")
class StaffMessagesRead(MethodView):
    @blp.arguments(MessagesReadSchema)
    @blp.response(200, MessagesUnreadSchema)
    @refusals(blp, 401, 403, 404)
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> service.Unread:
        """Mark the survivor's messages up to one as read by me."""
        s, rt, access = staff_access(survivor_id, "messages.read")
        return service.staff_mark_read(s, access, rt.clock, up_to=data["up_to"])


@allow(CASEWORKER)
@blp.route("/staff/survivors/<uuid:survivor_id>/messages/settings")
class StaffMessageSettings(MethodView):
    @blp.response(200, MessageSettingsSchema)
    @refusals(blp, 401, 403, 404)
    def get(self, survivor_id: uuid.UUID) -> service.MessageSettings:
        """The survivor's conversation settings: how long messages live, replies by SMS
        (hers to set; step-up within 15 min, like the conversation)."""
        s, rt, access = staff_access(survivor_id, "messages.settings_read")
        return service.staff_get_settings(s, access, rt.clock)


@allow(CASEWORKER)
@blp.route("/staff/messages/unread")
class StaffUnread(MethodView):
    @blp.response(200, StaffUnreadSchema)
    @refusals(blp, 401, 403)
    def get(self) -> service.CaseloadUnread:
        """Unread counts for me, per survivor on my caseload."""
        return service.staff_unread(session(), admitted(StaffPrincipal), runtime().clock)
