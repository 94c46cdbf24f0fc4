"""The staff console's notice queue: list my notices, mark one read."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from auth import notice_inbox
from auth.permissions import STAFF
from core.notices import URGENCIES, StaffNotice
from core.pages import PageQuerySchema, PageSchema, limit_field
from core.schemas import Schema
from web.access import allow, current_principal
from web.db import runtime, session
from web.route_docs import refusal

blp = Blueprint("staff_notices", __name__, description="Notices to staff (own only)")


class NoticeQuerySchema(PageQuerySchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "Only unread notices"})
    limit = limit_field(notice_inbox.MAX_PAGE)


class NoticeSchema(Schema):
    id = fields.UUID(required=True)
    kind = fields.String(required=True)
    urgency = fields.String(required=True, validate=validate.OneOf(URGENCIES))
    survivor_id = fields.UUID(allow_none=True)
    details = fields.Dict(required=True, metadata={"description": "Ids only, never content"})
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True)


class NoticePageSchema(PageSchema):
    items = fields.List(fields.Nested(NoticeSchema), required=True)


@allow(STAFF)
@blp.route("/staff/notices")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query")
    @blp.response(200, NoticePageSchema)
    @refusal(blp, 403, "Not fully signed-in staff")
    @refusal(blp, 404, "The cursor is not one of the caller's notices")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """My notices, newest first."""
        items, cursor = notice_inbox.list_notices(
            session(),
            current_principal(),
            unread_only=args["unread"],
            limit=args["limit"],
            after=args.get("cursor"),
        )
        return {"items": items, "next_cursor": cursor}


@allow(STAFF)
@blp.route("/staff/notices/<uuid:notice_id>/read")
class NoticeRead(MethodView):
    @blp.response(200, NoticeSchema)
    @refusal(blp, 403, "Not fully signed-in staff")
    @refusal(blp, 404, "No such notice of the caller's")
    def post(self, notice_id: uuid.UUID) -> StaffNotice:
        """Mark one of my notices read."""
        return notice_inbox.mark_read(session(), runtime().clock, current_principal(), notice_id)
