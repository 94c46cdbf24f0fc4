"""``GET /v1/survivor/access-log``: the survivor sees who touched their record."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from auth import access_log
from auth.permissions import SURVIVOR
from core.pages import PageQuerySchema, PageSchema, limit_field
from core.schemas import Schema
from web.access import allow, current_principal
from web.db import session
from web.route_docs import refusal

blp = Blueprint("access_log", __name__, description="The survivor's own access log")


class AccessLogQuerySchema(PageQuerySchema):
    limit = limit_field(access_log.MAX_PAGE)


class AccessLogEntrySchema(Schema):
    id = fields.UUID(required=True)
    at = fields.DateTime(required=True)
    actor_kind = fields.String(required=True, validate=validate.OneOf(access_log.SHOWN_ACTOR_KINDS))
    who = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Staff member's display name or agency name"},
    )
    role = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Staff role (advocate, supervisor, admin) or agency kind"},
    )
    action = fields.String(required=True)
    via = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "How access was granted: caseload or break_glass"},
    )


class AccessLogPageSchema(PageSchema):
    items = fields.List(fields.Nested(AccessLogEntrySchema), required=True)


@allow(SURVIVOR)
@blp.route("/survivor/access-log")
class AccessLog(MethodView):
    @blp.arguments(AccessLogQuerySchema, location="query")
    @blp.response(200, AccessLogPageSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Who read or changed my record, newest first."""
        items, cursor = access_log.access_log(
            session(), current_principal(), limit=args["limit"], after=args.get("cursor")
        )
        return {"items": items, "next_cursor": cursor}
