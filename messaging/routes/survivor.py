"""Survivor app: the conversation with the advocate team, and the survivor's phone number."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import SURVIVOR
from auth.principals import SurvivorPrincipal
from core.pages import Page
from messaging import service
from messaging.schemas import (
    MessagePageArgsSchema,
    MessageSettingsSchema,
    MessageSettingsUpdateSchema,
    MessagesReadSchema,
    MessagesUnreadSchema,
    SendMessageSchema,
    SurvivorMessageSchema,
    SurvivorPageSchema,
    SurvivorPhoneSchema,
)
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal, refusals

blp = Blueprint(
    "messaging_survivor", __name__, description="Survivor app: messages with the advocate team"
)


def _me() -> SurvivorPrincipal:
    """The survivor (or a duress session, on its decoy account) acting on her own conversation."""
    return admitted(SurvivorPrincipal)


@allow(SURVIVOR)
@blp.route("/survivor/messages")
class SurvivorMessages(MethodView):
    @blp.arguments(MessagePageArgsSchema, location="query")
    @blp.response(200, SurvivorPageSchema)
    @refusals(blp, 401, 403)
    def get(self, args: dict[str, Any]) -> Page[service.SurvivorMessage]:
        """My conversation, newest first (fetched messages count as delivered)."""
        rt = runtime()
        return service.survivor_list(
            session(), _me(), rt.clock, rt.vault, after=args.get("cursor"), limit=args["limit"]
        )

    @blp.arguments(SendMessageSchema)
    @blp.response(201, SurvivorMessageSchema)
    @refusals(blp, 401, 403)
    @refusal(blp, 429)
    def post(self, data: dict[str, Any]) -> service.SurvivorMessage:
        """Send a message to my advocate team."""
        rt = runtime()
        return service.survivor_send(
            session(),
            _me(),
            rt.clock,
            rt.vault,
            body=data["body"],
            per_minute=rt.settings.survivor_messages_per_minute,
        )


@allow(SURVIVOR)
@blp.route("/survivor/messages/read")
class SurvivorMessagesRead(MethodView):
    @blp.arguments(MessagesReadSchema)
    @blp.response(200, MessagesUnreadSchema)
    @refusals(blp, 401, 403, 404)
    def post(self, data: dict[str, Any]) -> service.Unread:
        """Mark everything received up to a message as read."""
        return service.survivor_mark_read(session(), _me(), runtime().clock, up_to=data["up_to"])


@allow(SURVIVOR)
@blp.route("/survivor/messages/unread")
class SurvivorMessagesUnread(MethodView):
    @blp.response(200, MessagesUnreadSchema)
    @refusals(blp, 401, 403)
    def get(self) -> service.Unread:
        """How many messages from the team I have not read."""
        return service.survivor_unread(session(), _me(), runtime().clock)


@allow(SURVIVOR)
@blp.route("/survivor/messages/settings")
class SurvivorMessageSettings(MethodView):
    @blp.response(200, MessageSettingsSchema)
    @refusals(blp, 401, 403)
    def get(self) -> service.MessageSettings:
        """How long new messages live, and whether replies also come by SMS."""
        return service.survivor_get_settings(session(), _me(), runtime().clock)

    @blp.arguments(MessageSettingsUpdateSchema)
    @blp.response(200, MessageSettingsSchema)
    @refusals(blp, 401, 403)
    def put(self, data: dict[str, Any]) -> service.MessageSettings:
        """Set how long new messages live (off, 1h, 24h, 7d; both sides lose them then) and
        whether the team's replies are also texted to my phone."""
        return service.survivor_set_settings(
            session(),
            _me(),
            runtime().clock,
            disappear_after=data.get("disappear_after"),
            reply_by_sms=data.get("reply_by_sms"),
        )


@allow(SURVIVOR)
@blp.route("/survivor/messages/clear")
class SurvivorMessagesClear(MethodView):
    @blp.response(204)
    @refusals(blp, 401, 403)
    def post(self) -> None:
        """Delete the whole conversation now, for everyone (not only hidden)."""
        service.survivor_clear(session(), _me(), runtime().clock)


@allow(SURVIVOR)
@blp.route("/survivor/phone")
class SurvivorPhone(MethodView):
    @blp.arguments(SurvivorPhoneSchema)
    @blp.response(204)
    @refusals(blp, 401, 403)
    def put(self, data: dict[str, Any]) -> None:
        """Set my phone number for SMS (stored encrypted; never shown back)."""
        rt = runtime()
        service.survivor_set_phone(session(), _me(), rt.clock, rt.vault, phone_number=data["phone"])

    @blp.response(204)
    @refusals(blp, 401, 403)
    def delete(self) -> None:
        """Forget my phone number."""
        service.survivor_clear_phone(session(), _me(), runtime().clock)
