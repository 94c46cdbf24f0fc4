"""The staff console's notice queue: list my notices, mark one read."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import STAFF
from auth.principals import StaffPrincipal
from auth.staff import notices
from auth.staff.schemas import NoticePageSchema, NoticeQuerySchema, NoticeSchema
from core.notices import StaffNotice
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal

blp = Blueprint("staff_notices", __name__, description="Notices to staff (own only)")


@allow(STAFF)
@blp.route("/staff/notices")
class Notices(MethodView):
    @blp.arguments(NoticeQuerySchema, location="query")
    @blp.response(200, NoticePageSchema)
    @refusal(blp, 403, "Not fully signed-in staff")
    @refusal(blp, 404, "The cursor is not one of the caller's notices")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """My notices, newest first."""
        items, cursor = notices.list_notices(
            session(),
            admitted(StaffPrincipal),
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
        return notices.mark_read(session(), runtime().clock, admitted(StaffPrincipal), notice_id)
