"""Partner agencies: pull their own alerts, acknowledge them, send events about the abuser."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import Partners
from auth.principals import PartnerPrincipal
from coordination import events, pull
from coordination.events import EventAccepted, EventIn
from coordination.pull import Acknowledged, PulledAlert
from coordination.routes.common import clock, deps
from coordination.schemas import (
    AckSchema,
    EventAcceptedSchema,
    EventInSchema,
    PartnerAlertPageSchema,
    PartnerAlertQuerySchema,
)
from core.pages import Page
from web.access import admitted, allow
from web.db import session
from web.route_docs import refusal

_DESCRIPTION = """Partner agency API: alerts and events.

Alerts reach an agency only under a survivor's consent in force (or an approved lawful-basis
share), under a reference of the agency's own (`ref_...`), carrying only the alert's kind,
times and the kind's fields. With a webhook endpoint they are POSTed as Standard Webhooks:
verify `webhook-signature` over `webhook-id.webhook-timestamp.body` with your `whsec_` secret
(e.g. `standardwebhooks.Webhook(secret).verify(body, headers)`; during a secret rotation two
`v1,` signatures are sent); drop repeats by `webhook-id`, which stays the same on every retry.
Answer any 2xx to accept. Failures are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
20 h and 24 h (with jitter, never sooner than `Retry-After`); `410 Gone` disables the endpoint.
Without a webhook, pull `GET /v1/partner/alerts` with the returned cursor and acknowledge."""

blp = Blueprint("coordination_partner", __name__, description=_DESCRIPTION)


@allow(Partners("alerts:read"))
@blp.route("/partner/alerts")
class PartnerAlerts(MethodView):
    @blp.arguments(PartnerAlertQuerySchema, location="query")
    @blp.response(200, PartnerAlertPageSchema)
    @refusal(blp, 403, "Not a partner key with alerts:read")
    def get(self, query: dict[str, Any]) -> Page[PulledAlert]:
        """This agency's alerts after a cursor, oldest first (for agencies without webhooks)."""
        principal = admitted(PartnerPrincipal)
        return pull.pull(
            session(), principal, clock(), deps(), after=query.get("cursor"), limit=query["limit"]
        )


@allow(Partners("alerts:ack"))
@blp.route("/partner/alerts/<uuid:alert_id>/ack")
class PartnerAlertAck(MethodView):
    @blp.response(200, AckSchema)
    @refusal(blp, 403, "Not a partner key with alerts:ack")
    @refusal(blp, 404, "No such alert for this agency")
    def post(self, alert_id: uuid.UUID) -> Acknowledged:
        """Acknowledge one of this agency's alerts."""
        principal = admitted(PartnerPrincipal)
        return pull.acknowledge(session(), principal, clock(), alert_id=alert_id)


@allow(Partners("events:write"))
@blp.route("/partner/events")
class PartnerEvents(MethodView):
    @blp.arguments(EventInSchema)
    @blp.response(201, EventAcceptedSchema)
    @blp.alt_response(200, schema=EventAcceptedSchema, description="A repeat: no second effect")
    @refusal(blp, 403, "Not a partner key with events:write")
    @refusal(blp, 404, "Unknown reference")
    @refusal(blp, 409, "This event id was used for a different event")
    def post(self, data: EventIn) -> tuple[EventAccepted, int]:
        """Report an event about the abuser against this agency's reference."""
        principal = admitted(PartnerPrincipal)
        accepted = events.receive(session(), principal, clock(), deps(), event=data)
        return accepted, 200 if accepted.duplicate else 201
