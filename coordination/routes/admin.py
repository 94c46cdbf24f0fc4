"""Admins: an agency's webhook endpoint and secrets; deliveries and redelivery."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import ADMIN, require_fresh_second_factor
from auth.principals import StaffPrincipal
from coordination import deliveries, webhooks
from coordination.deliveries import DeliveryView
from coordination.routes.common import clock, deps
from coordination.schemas import (
    DeliveryListSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    WebhookSchema,
    WebhookSetSchema,
)
from coordination.urls import Endpoint
from coordination.webhooks import WebhookView
from core.schemas import Items
from web.access import admitted, allow
from web.db import session
from web.route_docs import refusal

blp = Blueprint(
    "coordination_admin", __name__, description="Admins: partner webhooks and deliveries"
)

_W = "/admin/agencies/<uuid:agency_id>/webhook"


@allow(ADMIN)
@blp.route(_W)
class Webhook(MethodView):
    @blp.response(200, WebhookSchema)
    @refusal(blp, 403, "Not an admin")
    @refusal(blp, 404, "No such agency")
    def get(self, agency_id: uuid.UUID) -> WebhookView:
        """The agency's webhook endpoint (never its secret)."""
        return webhooks.get(session(), clock(), agency_id=agency_id)

    @blp.arguments(WebhookSetSchema)
    @blp.response(200, WebhookSchema)
    @refusal(blp, 403, "Not an admin")
    @refusal(blp, 404, "No such agency")
    @refusal(blp, 422, "The URL is not https or reaches an internal address")
    def put(self, data: dict[str, Any], agency_id: uuid.UUID) -> WebhookView:
        """Set the endpoint (re-enables it); the first time, the signing secret is shown once."""
        principal = admitted(StaffPrincipal)
        return webhooks.set_url(
            session(),
            principal,
            clock(),
            deps(),
            agency_id=agency_id,
            url=data["url"],
            served_at=_served_at(),
        )

    @blp.response(204)
    @refusal(blp, 403, "Not an admin")
    @refusal(blp, 404, "No such agency")
    def delete(self, agency_id: uuid.UUID) -> None:
        """Remove the endpoint; the agency can still pull its alerts."""
        principal = admitted(StaffPrincipal)
        webhooks.remove(session(), principal, clock(), agency_id=agency_id)


def _served_at() -> tuple[Endpoint, ...]:
    """The local address and port this request reached the app on: the address the app server
    is bound to (gunicorn and werkzeug both hand the connection's socket to the app)."""
    for key in ("gunicorn.socket", "werkzeug.socket"):
        sock = request.environ.get(key)
        if sock is None:
            continue
        try:
            name = sock.getsockname()
        except (OSError, AttributeError):
            return ()
        if isinstance(name, tuple) and len(name) >= 2:  # not a Unix socket's path
            return ((str(name[0]).split("%", 1)[0], int(name[1])),)
        return ()
    return ()


@allow(ADMIN)
@blp.route(f"{_W}/secrets/rotate")
class WebhookRotate(MethodView):
    @blp.response(200, WebhookSchema)
    @refusal(blp, 401, "A fresh second factor is needed")
    @refusal(blp, 403, "Not an admin")
    @refusal(blp, 404, "No such agency or no endpoint")
    def post(self, agency_id: uuid.UUID) -> WebhookView:
        """A new signing secret, shown once; the old one keeps signing for 24 hours."""
        principal = admitted(StaffPrincipal)
        require_fresh_second_factor(principal, clock())
        return webhooks.rotate_secret(session(), principal, clock(), deps(), agency_id=agency_id)


@allow(ADMIN)
@blp.route("/admin/deliveries")
class Deliveries(MethodView):
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliveryListSchema)
    @refusal(blp, 403, "Not an admin")
    def get(self, query: dict[str, Any]) -> Items[DeliveryView]:
        """Webhook deliveries (no payloads), newest first; filter by state or agency."""
        rows = deliveries.list_for_admin(session(), **query)
        return Items([deliveries.view(session(), d) for d in rows])


@allow(ADMIN)
@blp.route("/admin/deliveries/<uuid:delivery_id>/redeliver")
class Redeliver(MethodView):
    @blp.response(200, DeliverySchema)
    @refusal(blp, 403, "Not an admin")
    @refusal(blp, 404, "No such delivery")
    @refusal(blp, 409, "Cancelled, or the agency has no endpoint")
    def post(self, delivery_id: uuid.UUID) -> DeliveryView:
        """Send again with the same webhook-id."""
        principal = admitted(StaffPrincipal)
        delivery = deliveries.redeliver(session(), principal, clock(), delivery_id=delivery_id)
        return deliveries.view(session(), delivery)
