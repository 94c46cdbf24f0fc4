"""The advocates' console: consents on a survivor's word, alerts, agency events, the
disclosure log and sharing without consent (two people)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER, SUPERVISOR
from coordination import alerts, consents, disclosures, events, lawful_basis
from coordination.alerts import AlertRaised
from coordination.consents import ConsentView
from coordination.disclosures import DisclosureView
from coordination.events import AgencyEventView
from coordination.lawful_basis import LawfulShareView
from coordination.routes.common import clock, deps, staff_access
from coordination.schemas import (
    AgencyEventListSchema,
    AlertCreatedSchema,
    AlertCreateSchema,
    ConsentListSchema,
    ConsentRecordSchema,
    ConsentSchema,
    DisclosureListSchema,
    LawfulShareCreateSchema,
    LawfulShareListSchema,
    LawfulShareSchema,
)
from core.schemas import Items
from web.access import allow
from web.db import session
from web.route_docs import refusal

blp = Blueprint(
    "coordination_staff", __name__, description="Advocates: consents, alerts, agency events"
)

_S = "/staff/survivors/<uuid:survivor_id>"


@allow(CASEWORKER)
@blp.route(f"{_S}/consents")
class Consents(MethodView):
    @blp.response(200, ConsentListSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload")
    def get(self, survivor_id: uuid.UUID) -> Items[ConsentView]:
        """The survivor's consents."""
        access = staff_access(survivor_id, "consent.list")
        s, c, d = session(), clock(), deps()
        return Items([consents.view(s, c, d, x) for x in consents.list_for(s, access)])

    @blp.arguments(ConsentRecordSchema)
    @blp.response(201, ConsentSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload, or no such agency")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> ConsentView:
        """Record a consent given in person; it starts once the survivor confirms in the app."""
        access = staff_access(survivor_id, "consent.record", write=True)
        s, c, d = session(), clock(), deps()
        consent = consents.record_for_survivor(s, access, c, d, **data)
        return consents.view(s, c, d, consent)


@allow(CASEWORKER)
@blp.route(f"{_S}/consents/<uuid:consent_id>/revoke")
class ConsentRevoke(MethodView):
    @blp.response(200, ConsentSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload, or no such consent")
    def post(self, survivor_id: uuid.UUID, consent_id: uuid.UUID) -> ConsentView:
        """Withdraw a consent on the survivor's word, at once."""
        access = staff_access(survivor_id, "consent.revoke", write=True)
        s, c = session(), clock()
        consent = consents.revoke(s, access, c, consent_id=consent_id)
        return consents.view(s, c, deps(), consent)


@allow(CASEWORKER)
@blp.route(f"{_S}/alerts")
class Alerts(MethodView):
    @blp.arguments(AlertCreateSchema)
    @blp.response(201, AlertCreatedSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> AlertRaised:
        """Raise an alert; it goes to each agency whose consent covers its kind."""
        access = staff_access(survivor_id, "alert.create", write=True)
        kind = data.pop("kind")
        return alerts.raise_for(session(), access, clock(), deps(), kind=kind, fields=data)


@allow(CASEWORKER)
@blp.route(f"{_S}/disclosures")
class Disclosures(MethodView):
    @blp.response(200, DisclosureListSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload")
    def get(self, survivor_id: uuid.UUID) -> Items[DisclosureView]:
        """What was shared about the survivor, with whom and why."""
        access = staff_access(survivor_id, "disclosure.list")
        return Items(disclosures.list_for(session(), access, deps()))


@allow(CASEWORKER)
@blp.route(f"{_S}/agency-events")
class AgencyEvents(MethodView):
    @blp.response(200, AgencyEventListSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload")
    def get(self, survivor_id: uuid.UUID) -> Items[AgencyEventView]:
        """Events agencies reported about the abuser."""
        access = staff_access(survivor_id, "agency_event.list")
        return Items(events.list_for_staff(session(), access, deps()))


@allow(CASEWORKER)
@blp.route(f"{_S}/lawful-shares")
class LawfulShares(MethodView):
    @blp.response(200, LawfulShareListSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload")
    def get(self, survivor_id: uuid.UUID) -> Items[LawfulShareView]:
        """Shares without consent, pending and decided."""
        access = staff_access(survivor_id, "lawful_share.list")
        s, d = session(), deps()
        return Items([lawful_basis.view(s, d, x) for x in lawful_basis.list_for(s, access)])

    @blp.arguments(LawfulShareCreateSchema)
    @blp.response(201, LawfulShareSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload, or no such agency")
    def post(self, data: dict[str, Any], survivor_id: uuid.UUID) -> LawfulShareView:
        """Record a lawful basis to share without consent; a different supervisor approves."""
        access = staff_access(survivor_id, "lawful_share.request", write=True)
        data.setdefault("not_telling_reason", None)
        s, d = session(), deps()
        share = lawful_basis.request_share(s, access, clock(), d, **data)
        return lawful_basis.view(s, d, share)


def _decide(survivor_id: uuid.UUID, share_id: uuid.UUID, approve: bool) -> LawfulShareView:
    # A decision is a write: a supervisor reaching her only through break-glass (read-only)
    # must not share her data without consent; the decider is on her caseload.
    access = staff_access(survivor_id, "lawful_share.decide", write=True)
    s = session()
    share = lawful_basis.decide(s, access, clock(), share_id=share_id, approve=approve)
    return lawful_basis.view(s, deps(), share)


@allow(SUPERVISOR)
@blp.route(f"{_S}/lawful-shares/<uuid:share_id>/approve")
class LawfulShareApprove(MethodView):
    @blp.response(200, LawfulShareSchema)
    @refusal(blp, 403, "Not a supervisor, or the same person who asked")
    @refusal(blp, 404, "Not reachable, or no such share")
    @refusal(blp, 409, "Already decided")
    def post(self, survivor_id: uuid.UUID, share_id: uuid.UUID) -> LawfulShareView:
        """Approve (a supervisor other than the requester)."""
        return _decide(survivor_id, share_id, True)


@allow(SUPERVISOR)
@blp.route(f"{_S}/lawful-shares/<uuid:share_id>/reject")
class LawfulShareReject(MethodView):
    @blp.response(200, LawfulShareSchema)
    @refusal(blp, 403, "Not a supervisor, or the same person who asked")
    @refusal(blp, 404, "Not reachable, or no such share")
    @refusal(blp, 409, "Already decided")
    def post(self, survivor_id: uuid.UUID, share_id: uuid.UUID) -> LawfulShareView:
        """Reject (a supervisor other than the requester)."""
        return _decide(survivor_id, share_id, False)


@allow(CASEWORKER)
@blp.route(f"{_S}/lawful-shares/<uuid:share_id>/withdraw")
class LawfulShareWithdraw(MethodView):
    @blp.response(200, LawfulShareSchema)
    @refusal(blp, 403, "Not an advocate or supervisor")
    @refusal(blp, 404, "Not on your caseload, or no such share")
    def post(self, survivor_id: uuid.UUID, share_id: uuid.UUID) -> LawfulShareView:
        """End a share at once."""
        access = staff_access(survivor_id, "lawful_share.withdraw", write=True)
        s = session()
        share = lawful_basis.withdraw(s, access, clock(), share_id=share_id)
        return lawful_basis.view(s, deps(), share)
