"""Admin management of partner agencies and keys, and the partner's own ``/partner/me``."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import ADMIN, PARTNER
from auth.partners import agencies, keys
from auth.partners.models import PartnerAgency, PartnerApiKey
from auth.partners.schemas import (
    AgencyCreateSchema,
    AgencyListSchema,
    AgencySchema,
    AgencyUpdateSchema,
    IssuedKeySchema,
    KeyCreateSchema,
    KeyListSchema,
    KeySchema,
    PartnerMeSchema,
)
from auth.principals import PartnerPrincipal, StaffPrincipal
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal

admin_blp = Blueprint(
    "partner_admin", __name__, description="Partner agencies and their API keys (admins)"
)
partner_blp = Blueprint("partner_self", __name__, description="Partner agency API: identity")

_KEY = "<string(minlength=1,maxlength=32):key_id>"


def _key_out(key: PartnerApiKey, successors: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "scopes": list(key.scopes),
        "status": keys.key_status(key, runtime().clock.now()),
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
        "replaced_by": successors.get(key.replaced_by) if key.replaced_by else None,
    }


def _issued_out(issued: keys.IssuedKey) -> dict[str, Any]:
    return {
        "key_id": issued.key.key_id,
        "api_key": issued.api_key,
        "scopes": list(issued.key.scopes),
        "created_at": issued.key.created_at,
        "expires_at": issued.key.expires_at,
        "replaces": issued.replaces.key_id if issued.replaces else None,
        "replaced_key_expires_at": issued.replaces.expires_at if issued.replaces else None,
    }


@allow(ADMIN)
@admin_blp.route("/admin/agencies")
class Agencies(MethodView):
    @admin_blp.response(200, AgencyListSchema)
    @refusal(admin_blp, 403, "Not an admin")
    def get(self) -> dict[str, list[PartnerAgency]]:
        """List partner agencies, disabled ones included."""
        return {"items": agencies.list_agencies(session())}

    @admin_blp.arguments(AgencyCreateSchema)
    @admin_blp.response(201, AgencySchema)
    @refusal(admin_blp, 403, "Not an admin")
    def post(self, data: dict[str, Any]) -> PartnerAgency:
        """Register a partner agency."""
        return agencies.create_agency(
            session(),
            runtime().clock,
            admitted(StaffPrincipal),
            name=data["name"],
            kind=data["kind"],
            contact=data.get("contact"),
        )


@allow(ADMIN)
@admin_blp.route("/admin/agencies/<uuid:agency_id>")
class Agency(MethodView):
    @admin_blp.response(200, AgencySchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency")
    def get(self, agency_id: uuid.UUID) -> PartnerAgency:
        """One partner agency."""
        return agencies.get_agency(session(), agency_id)

    @admin_blp.arguments(AgencyUpdateSchema)
    @admin_blp.response(200, AgencySchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency")
    def patch(self, data: agencies.AgencyChanges, agency_id: uuid.UUID) -> PartnerAgency:
        """Change an agency's name, kind or contact."""
        return agencies.update_agency(
            session(), runtime().clock, admitted(StaffPrincipal), agency_id, data
        )


@allow(ADMIN)
@admin_blp.route("/admin/agencies/<uuid:agency_id>/disable")
class AgencyDisable(MethodView):
    @admin_blp.response(200, AgencySchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency")
    def post(self, agency_id: uuid.UUID) -> PartnerAgency:
        """Disable an agency: every one of its keys stops working at once."""
        return agencies.disable_agency(
            session(), runtime().clock, admitted(StaffPrincipal), agency_id
        )


@allow(ADMIN)
@admin_blp.route("/admin/agencies/<uuid:agency_id>/api-keys")
class AgencyKeys(MethodView):
    @admin_blp.response(200, KeyListSchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency")
    def get(self, agency_id: uuid.UUID) -> dict[str, Any]:
        """The agency's API keys (never their secrets)."""
        agency_keys = keys.list_keys(session(), agency_id)
        successors = keys.successor_key_ids(session(), agency_keys)
        return {"items": [_key_out(k, successors) for k in agency_keys]}

    @admin_blp.arguments(KeyCreateSchema)
    @admin_blp.response(201, IssuedKeySchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency")
    @refusal(admin_blp, 409, "The agency is disabled")
    def post(self, data: dict[str, Any], agency_id: uuid.UUID) -> dict[str, Any]:
        """Issue an API key; its secret is in this response and never shown again."""
        issued = keys.issue_key(
            session(),
            runtime().clock,
            admitted(StaffPrincipal),
            agency_id,
            data["scopes"],
            data.get("expires_in_days"),
        )
        return _issued_out(issued)


@allow(ADMIN)
@admin_blp.route(f"/admin/agencies/<uuid:agency_id>/api-keys/{_KEY}/rotate")
class AgencyKeyRotate(MethodView):
    @admin_blp.response(201, IssuedKeySchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency or key")
    @refusal(admin_blp, 409, "The key is not live, or was already rotated")
    def post(self, agency_id: uuid.UUID, key_id: str) -> dict[str, Any]:
        """Replace a key (same scopes); the old one keeps working for 24 hours, then stops."""
        issued = keys.rotate_key(
            session(), runtime().clock, admitted(StaffPrincipal), agency_id, key_id
        )
        return _issued_out(issued)


@allow(ADMIN)
@admin_blp.route(f"/admin/agencies/<uuid:agency_id>/api-keys/{_KEY}/revoke")
class AgencyKeyRevoke(MethodView):
    @admin_blp.response(200, KeySchema)
    @refusal(admin_blp, 403, "Not an admin")
    @refusal(admin_blp, 404, "No such agency or key")
    def post(self, agency_id: uuid.UUID, key_id: str) -> dict[str, Any]:
        """Revoke a key: it stops working at once."""
        key = keys.revoke_key(
            session(), runtime().clock, admitted(StaffPrincipal), agency_id, key_id
        )
        return _key_out(key, keys.successor_key_ids(session(), [key]))


@allow(PARTNER)
@partner_blp.route("/partner/me")
class PartnerMe(MethodView):
    @partner_blp.response(200, PartnerMeSchema)
    @refusal(partner_blp, 403, "Not a partner API key")
    def get(self) -> agencies.PartnerIdentity:
        """The calling key's agency and scopes."""
        return agencies.describe_partner(session(), admitted(PartnerPrincipal))
