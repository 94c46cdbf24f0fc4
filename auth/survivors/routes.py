"""HTTP routes for survivor identity: enrollment, login, refresh, quick exit, PINs, devices.

Thin views: parse, find the principal, call one service, dump. Enroll, login and refresh are
public (``web.access.PUBLIC_ENDPOINTS``); everything else needs the survivor's access token,
except creating an enrollment code, which is for advocates and supervisors.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER, SURVIVOR
from auth.deps import AuthDeps
from auth.principals import StaffPrincipal, SurvivorPrincipal
from auth.survivors import devices, enrollment, pins, sessions
from auth.survivors.schemas import (
    EnrollmentCodeSchema,
    SurvivorDeviceSchema,
    SurvivorDuressPinSchema,
    SurvivorEnrolledSchema,
    SurvivorEnrollSchema,
    SurvivorLoginSchema,
    SurvivorPinChangeSchema,
    SurvivorRefreshSchema,
    SurvivorTokensSchema,
)
from web.access import admitted, allow
from web.db import runtime, session
from web.route_docs import refusal, slowed_down

blp = Blueprint(
    "survivor_auth",
    __name__,
    description="Survivor accounts: enrollment, PIN login, device sessions, quick exit",
)


def _client() -> str:
    # ProxyFix (LANTERN_TRUSTED_PROXIES) has already put the real client address here.
    return request.remote_addr or "unknown"


def _deps() -> AuthDeps:
    return runtime().collaborators.need(AuthDeps)


def _tokens(issued: sessions.IssuedTokens) -> dict[str, Any]:
    return {
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "access_expires_at": issued.access_expires_at,
    }


@allow(CASEWORKER)
@blp.route("/staff/enrollment-codes")
class EnrollmentCodes(MethodView):
    @blp.response(201, EnrollmentCodeSchema)
    @refusal(blp, 401, "Not authenticated")
    @refusal(blp, 403, "Only advocates and supervisors enrol survivors")
    def post(self) -> dict[str, Any]:
        """Create a single-use enrollment code for a new survivor (shown once)."""
        rt = runtime()
        new = enrollment.create_code(
            session(), admitted(StaffPrincipal), rt.clock, rt.keyring, rt.settings
        )
        return {"code": new.code, "expires_at": new.expires_at}


_slow_down = slowed_down(blp)


@blp.route("/survivor/enroll")
class Enroll(MethodView):
    @blp.arguments(SurvivorEnrollSchema)
    @blp.response(201, SurvivorEnrolledSchema)
    @refusal(blp, 401, "The code is unknown, used or expired")
    @_slow_down
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Redeem an enrollment code: set the PIN (and optional duress PIN), get a session."""
        enrolled = enrollment.redeem(session(), runtime().clock, _deps(), client=_client(), **data)
        return {"account_handle": enrolled.account_handle, **_tokens(enrolled.tokens)}


@blp.route("/survivor/login")
class Login(MethodView):
    @blp.arguments(SurvivorLoginSchema)
    @blp.response(200, SurvivorTokensSchema)
    @refusal(blp, 401, "Not accepted (every failure answers the same)")
    @_slow_down
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Log a device in with the account handle and PIN."""
        issued = sessions.login(
            session(),
            runtime().clock,
            _deps(),
            account_handle=data["account_handle"],
            pin=data["pin"],
            device_label=data["device_label"],
            client=_client(),
        )
        return _tokens(issued)


@blp.route("/survivor/token/refresh")
class Refresh(MethodView):
    @blp.arguments(SurvivorRefreshSchema)
    @blp.response(200, SurvivorTokensSchema)
    @refusal(blp, 401, "The refresh token is not valid")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Swap a refresh token for a new access token and a new refresh token."""
        rt = runtime()
        issued = sessions.refresh(
            session(), rt.clock, rt.settings, refresh_token=data["refresh_token"]
        )
        return _tokens(issued)


@allow(SURVIVOR)
@blp.route("/survivor/quick-exit")
class QuickExit(MethodView):
    @blp.response(204)
    @refusal(blp, 401, "Not authenticated")
    @refusal(blp, 403, "Not a survivor session")
    def post(self) -> None:
        """End every device session of this survivor at once."""
        sessions.quick_exit(session(), admitted(SurvivorPrincipal), runtime().clock)


@allow(SURVIVOR)
@blp.route("/survivor/pin")
class Pin(MethodView):
    @blp.arguments(SurvivorPinChangeSchema)
    @blp.response(204)
    @refusal(blp, 401, "Not authenticated")
    @refusal(blp, 403, "The current PIN is not right")
    @refusal(blp, 429, "Too many PIN changes today; try again after Retry-After seconds")
    def post(self, data: dict[str, Any]) -> None:
        """Change the PIN (needs the current PIN); other device sessions end."""
        pins.change_pin(
            session(),
            admitted(SurvivorPrincipal),
            runtime().clock,
            _deps(),
            current_pin=data["current_pin"],
            new_pin=data["new_pin"],
        )


@allow(SURVIVOR)
@blp.route("/survivor/duress-pin")
class DuressPin(MethodView):
    @blp.arguments(SurvivorDuressPinSchema)
    @blp.response(204)
    @refusal(blp, 401, "Not authenticated")
    @refusal(blp, 403, "The current PIN is not right")
    def put(self, data: dict[str, Any]) -> None:
        """Set the duress PIN, or remove it with ``null`` (needs the current PIN)."""
        pins.set_duress_pin(
            session(),
            admitted(SurvivorPrincipal),
            runtime().clock,
            _deps(),
            current_pin=data["current_pin"],
            duress_pin=data["duress_pin"],
        )


@allow(SURVIVOR)
@blp.route("/survivor/devices")
class Devices(MethodView):
    @blp.response(200, SurvivorDeviceSchema(many=True))
    @refusal(blp, 401, "Not authenticated")
    @refusal(blp, 403, "Not a survivor session")
    def get(self) -> list[devices.DeviceView]:
        """The survivor's active device sessions."""
        rt = runtime()
        return devices.list_devices(session(), admitted(SurvivorPrincipal), rt.clock, rt.vault)


@allow(SURVIVOR)
@blp.route("/survivor/devices/<uuid:device_id>")
class Device(MethodView):
    @blp.response(204)
    @refusal(blp, 401, "Not authenticated")
    @refusal(blp, 403, "Not a survivor session")
    @refusal(blp, 404, "No such device session of yours")
    def delete(self, device_id: uuid.UUID) -> None:
        """End one of the survivor's device sessions."""
        devices.end_device(
            session(), admitted(SurvivorPrincipal), runtime().clock, device_id=device_id
        )
