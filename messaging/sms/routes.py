"""Twilio webhooks: inbound SMS and delivery status. Public; authenticated by signature."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from messaging.schemas import twilio_form_doc
from messaging.sms import webhooks
from messaging.sms.deps import SmsDeps
from web.db import runtime, session
from web.route_docs import refusal

blp = Blueprint("sms", __name__, description="Twilio webhooks (signed by Twilio)")


def _verified_form() -> dict[str, str]:
    rt = runtime()
    form = request.form
    # The URL Twilio signed is the public one; request.url is wrong behind a proxy.
    path = request.full_path.rstrip("?")
    webhooks.check_signature(
        rt.settings.twilio_auth_token,
        rt.settings.public_base_url,
        path,
        form,
        request.headers.get("X-Twilio-Signature"),
    )
    return {k: form.get(k, "") for k in form}


def _twiml() -> Response:
    return Response(webhooks.EMPTY_TWIML, status=200, mimetype="text/xml")


@blp.route("/sms/inbound")
class SmsInbound(MethodView):
    @blp.doc(**twilio_form_doc("An empty TwiML document, the same whoever sent the SMS"))
    @refusal(blp, 403)
    def post(self) -> Response:
        """An SMS to our number (Twilio's Messaging webhook)."""
        form = _verified_form()
        rt = runtime()
        deps = rt.collaborators.need(SmsDeps)
        webhooks.receive_sms(session(), rt.clock, rt.keyring, deps, form=form)
        return _twiml()


@blp.route("/sms/status")
class SmsStatus(MethodView):
    @blp.doc(**twilio_form_doc("An empty TwiML document"))
    @refusal(blp, 403)
    def post(self) -> Response:
        """A delivery status callback for a message we sent."""
        form = _verified_form()
        rt = runtime()
        webhooks.receive_status(session(), rt.clock, rt.collaborators.need(SmsDeps), form=form)
        return _twiml()
