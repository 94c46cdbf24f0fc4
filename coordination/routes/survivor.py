"""The survivor's app: agencies, consents (preview, give, confirm, revoke), the disclosure
log, neutral notices and the news preference. A decoy session sees its decoy account's."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import SURVIVOR
from coordination import consents, disclosures, survivor_notices
from coordination.routes.common import deps, me
from coordination.schemas import (
    AgencyBriefListSchema,
    ConsentConfirmSchema,
    ConsentGiveSchema,
    ConsentListSchema,
    ConsentPreviewSchema,
    ConsentSchema,
    ConsentTermsSchema,
    DisclosureListSchema,
    PreferencesSchema,
    SurvivorNoticeListSchema,
)
from web.access import allow
from web.db import runtime, session
from web.route_docs import refusal

blp = Blueprint(
    "coordination_survivor", __name__, description="Survivor: consents and who was told what"
)


@allow(SURVIVOR)
@blp.route("/survivor/agencies")
class Agencies(MethodView):
    @blp.response(200, AgencyBriefListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> dict[str, Any]:
        """Agencies the survivor may agree to share with."""
        return {"items": consents.agencies_for(session(), me())}


@allow(SURVIVOR)
@blp.route("/survivor/consents/preview")
class ConsentPreview(MethodView):
    @blp.arguments(ConsentPreviewSchema)
    @blp.response(200, ConsentTermsSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such agency")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """The plain-language text to show before agreeing, and its hash (send it back)."""
        t = consents.preview(session(), runtime().clock, me(), **data)
        return {
            "agency_id": t.agency.id,
            "agency_name": t.agency.name,
            "kinds": list(t.kinds),
            "purpose": t.purpose,
            "starts_at": t.starts_at,
            "expires_at": t.expires_at,
            "text": t.text,
            "text_hash": t.text_hash,
        }


@allow(SURVIVOR)
@blp.route("/survivor/consents")
class Consents(MethodView):
    @blp.response(200, ConsentListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> dict[str, Any]:
        """Every consent, with its state and receipt."""
        s, d, clock = session(), deps(), runtime().clock
        return {"items": [consents.view(s, clock, d, c) for c in consents.list_for(s, me())]}

    @blp.arguments(ConsentGiveSchema)
    @blp.response(201, ConsentSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such agency")
    @refusal(blp, 409, "The text changed since it was shown")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Agree to the text that was shown (its hash); returns the receipt."""
        s, d, clock = session(), deps(), runtime().clock
        consent = consents.give(s, clock, d, me(), **data)
        return consents.view(s, clock, d, consent)


@allow(SURVIVOR)
@blp.route("/survivor/consents/<uuid:consent_id>/confirm")
class ConsentConfirm(MethodView):
    @blp.arguments(ConsentConfirmSchema)
    @blp.response(200, ConsentSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such consent")
    @refusal(blp, 409, "Not waiting for confirmation, expired, or text differs")
    def post(self, data: dict[str, Any], consent_id: uuid.UUID) -> dict[str, Any]:
        """Confirm a consent an advocate recorded (send the receipt hash that was shown)."""
        s, d, clock = session(), deps(), runtime().clock
        consent = consents.confirm(s, clock, me(), consent_id, data["receipt_hash"])
        return consents.view(s, clock, d, consent)


@allow(SURVIVOR)
@blp.route("/survivor/consents/<uuid:consent_id>/revoke")
class ConsentRevoke(MethodView):
    @blp.response(200, ConsentSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such consent")
    def post(self, consent_id: uuid.UUID) -> dict[str, Any]:
        """Withdraw a consent at once (alerts waiting to be sent are cancelled)."""
        s, d, clock = session(), deps(), runtime().clock
        consent = consents.revoke(s, clock, me(), consent_id)
        return consents.view(s, clock, d, consent)


@allow(SURVIVOR)
@blp.route("/survivor/disclosures")
class Disclosures(MethodView):
    @blp.response(200, DisclosureListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> dict[str, Any]:
        """Everything shared about the survivor or received about them: with whom, what, why."""
        return {"items": disclosures.list_for(session(), deps(), me())}


@allow(SURVIVOR)
@blp.route("/survivor/sharing-notices")
class Notices(MethodView):
    @blp.response(200, SurvivorNoticeListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> dict[str, Any]:
        """Neutral notices: a consent about to end, sharing without consent, agency news."""
        return {"items": survivor_notices.list_for(session(), me())}


@allow(SURVIVOR)
@blp.route("/survivor/sharing-preferences")
class Preferences(MethodView):
    @blp.response(200, PreferencesSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> dict[str, Any]:
        """Whether the app tells the survivor about agency news."""
        return survivor_notices.preferences(session(), me())

    @blp.arguments(PreferencesSchema)
    @blp.response(200, PreferencesSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def put(self, data: dict[str, Any]) -> dict[str, Any]:
        """Choose whether to be told (in neutral words) when an agency reports news."""
        return survivor_notices.set_preferences(
            session(), runtime().clock, me(), data["agency_news"]
        )
