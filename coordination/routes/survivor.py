"""The survivor's app: agencies, consents (preview, give, confirm, revoke), the disclosure
log, neutral notices and the news preference. A decoy session sees its decoy account's."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import SURVIVOR
from auth.partners.models import PartnerAgency
from coordination import consents, disclosures, survivor_notices
from coordination.consents import ConsentTerms, ConsentView
from coordination.disclosures import DisclosureView
from coordination.models import SurvivorNotice
from coordination.routes.common import clock, deps, me
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
from core.schemas import Items
from web.access import allow
from web.db import session
from web.route_docs import refusal

blp = Blueprint(
    "coordination_survivor", __name__, description="Survivor: consents and who was told what"
)


@allow(SURVIVOR)
@blp.route("/survivor/agencies")
class Agencies(MethodView):
    @blp.response(200, AgencyBriefListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> Items[PartnerAgency]:
        """Agencies the survivor may agree to share with."""
        return Items(consents.agencies_for(session(), me()))


@allow(SURVIVOR)
@blp.route("/survivor/consents/preview")
class ConsentPreview(MethodView):
    @blp.arguments(ConsentPreviewSchema)
    @blp.response(200, ConsentTermsSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such agency")
    def post(self, data: dict[str, Any]) -> ConsentTerms:
        """The plain-language text to show before agreeing, and its hash (send it back)."""
        return consents.preview(session(), me(), clock(), **data)


@allow(SURVIVOR)
@blp.route("/survivor/consents")
class Consents(MethodView):
    @blp.response(200, ConsentListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> Items[ConsentView]:
        """Every consent, with its state and receipt."""
        s, c, d = session(), clock(), deps()
        return Items([consents.view(s, c, d, x) for x in consents.list_for(s, me())])

    @blp.arguments(ConsentGiveSchema)
    @blp.response(201, ConsentSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such agency")
    @refusal(blp, 409, "The text changed since it was shown")
    def post(self, data: dict[str, Any]) -> ConsentView:
        """Agree to the text that was shown (its hash); returns the receipt."""
        s, c, d = session(), clock(), deps()
        consent = consents.give(s, me(), c, d, **data)
        return consents.view(s, c, d, consent)


@allow(SURVIVOR)
@blp.route("/survivor/consents/<uuid:consent_id>/confirm")
class ConsentConfirm(MethodView):
    @blp.arguments(ConsentConfirmSchema)
    @blp.response(200, ConsentSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such consent")
    @refusal(blp, 409, "Not waiting for confirmation, expired, or text differs")
    def post(self, data: dict[str, Any], consent_id: uuid.UUID) -> ConsentView:
        """Confirm a consent an advocate recorded (send the receipt hash that was shown)."""
        s, c = session(), clock()
        consent = consents.confirm(
            s, me(), c, consent_id=consent_id, receipt_hash=data["receipt_hash"]
        )
        return consents.view(s, c, deps(), consent)


@allow(SURVIVOR)
@blp.route("/survivor/consents/<uuid:consent_id>/revoke")
class ConsentRevoke(MethodView):
    @blp.response(200, ConsentSchema)
    @refusal(blp, 403, "Not a survivor's app")
    @refusal(blp, 404, "No such consent")
    def post(self, consent_id: uuid.UUID) -> ConsentView:
        """Withdraw a consent at once (alerts waiting to be sent are cancelled)."""
        s, c = session(), clock()
        consent = consents.revoke(s, me(), c, consent_id=consent_id)
        return consents.view(s, c, deps(), consent)


@allow(SURVIVOR)
@blp.route("/survivor/disclosures")
class Disclosures(MethodView):
    @blp.response(200, DisclosureListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> Items[DisclosureView]:
        """Everything shared about the survivor or received about them: with whom, what, why."""
        return Items(disclosures.list_for(session(), me(), deps()))


@allow(SURVIVOR)
@blp.route("/survivor/sharing-notices")
class Notices(MethodView):
    @blp.response(200, SurvivorNoticeListSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> Items[SurvivorNotice]:
        """Neutral notices: a consent about to end, sharing without consent, agency news."""
        return Items(survivor_notices.list_for(session(), me()))


@allow(SURVIVOR)
@blp.route("/survivor/sharing-preferences")
class Preferences(MethodView):
    @blp.response(200, PreferencesSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def get(self) -> survivor_notices.Preferences:
        """Whether the app tells the survivor about agency news."""
        return survivor_notices.preferences(session(), me())

    @blp.arguments(PreferencesSchema)
    @blp.response(200, PreferencesSchema)
    @refusal(blp, 403, "Not a survivor's app")
    def put(self, data: dict[str, Any]) -> survivor_notices.Preferences:
        """Choose whether to be told (in neutral words) when an agency reports news."""
        return survivor_notices.set_preferences(
            session(), me(), clock(), agency_news=data["agency_news"]
        )
