"""Liveness and readiness probes (public, and telling nothing about anyone)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text

from api.db import session
from api.migrate import current_revisions, head_revisions
from core.errors import ServiceUnavailable
from core.schemas import Schema

blp = Blueprint("health", __name__, description="Process and dependency health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/healthz")
class Healthz(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, description="The database is unreachable or not migrated")
    def get(self) -> dict[str, str]:
        """The database answers and its schema is at the latest migration."""
        try:
            s = session()
            s.execute(text("SELECT 1"))
            current = current_revisions(s.connection())
        except Exception:  # noqa: BLE001 - any failure means not ready
            raise ServiceUnavailable("The database is not reachable.") from None
        if current != head_revisions():
            raise ServiceUnavailable("The database schema is not at the latest migration.")
        return {"status": "ready"}
