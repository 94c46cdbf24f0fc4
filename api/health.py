"""Liveness and readiness probes (public, and telling nothing about anyone)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text

from api.migrate import current_revisions, head_revisions
from core.errors import ServiceUnavailable
from core.schemas import Schema
from web.db import session
from web.problems import RETRY_AFTER_SECONDS
from web.route_docs import refusal

blp = Blueprint("health", __name__, description="Process and dependency health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


_RETRY_AFTER_DOC = {
    "Retry-After": {
        "description": "Seconds to wait before asking again",
        "schema": {"type": "integer"},
    }
}


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200, HealthSchema)
    @refusal(blp, 503, "The database is unreachable or not migrated", headers=_RETRY_AFTER_DOC)
    def get(self) -> dict[str, str]:
        """The database answers and its schema is at the latest migration."""
        retry = {"Retry-After": RETRY_AFTER_SECONDS}
        try:
            s = session()
            s.execute(text("SELECT 1"))
            current = current_revisions(s.connection())
        except Exception:  # noqa: BLE001 - any failure means not ready
            raise ServiceUnavailable("The database is not reachable.", headers=retry) from None
        if current != head_revisions():
            raise ServiceUnavailable(
                "The database schema is not at the latest migration.", headers=retry
            )
        return {"status": "ready"}
