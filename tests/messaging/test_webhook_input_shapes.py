"""Signed Twilio form posts carrying the input shapes that once crashed JSON routes.

A form body is text, so a lone surrogate cannot be spelled: ``%ED%A0%80`` is invalid UTF-8,
which Werkzeug leaves percent-encoded. NUL can be, and so can runs of digits. Whatever Twilio
relays, the webhook answers its empty TwiML without a server error, on PostgreSQL too.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from core.runtime import Runtime
from messaging.phone import set_phone
from messaging.sms.webhooks import EMPTY_TWIML
from tests.factories import make_staff, make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import sign

PHONE = "+14155550143"
SHAPES = {
    "nul": "help\x00me",
    "invalid-utf8-surrogate": "\udcff",  # sent as the raw bytes %ED%A0%80, see _encode
    "huge-digits": "9" * 5000,
    "deep-brackets": "[" * 1000,
}


def _encode(params: dict[str, str]) -> str:
    return "&".join(
        f"{quote(k)}={'%ED%A0%80' if v == SHAPES['invalid-utf8-surrogate'] else quote(v)}"
        for k, v in params.items()
    )


@pytest.mark.parametrize("path", ["/v1/sms/inbound", "/v1/sms/status"])
def test_signed_webhooks_take_every_shape_in_every_field(
    console_app: Flask, db_session: Session, runtime: Runtime, path: str
) -> None:
    advocate, _ = make_staff(db_session, runtime)
    survivor, _ = make_survivor(db_session, runtime, advocate=advocate)
    set_phone(db_session, runtime.vault, survivor.id, PHONE)
    db_session.commit()
    client = JsonClient(console_app)
    for field in ("Body", "From", "MessageSid", "To", "MessageStatus"):
        for shape, value in SHAPES.items():
            params = {
                "MessageSid": "SM" + uuid.uuid4().hex,
                "MessageStatus": "delivered",
                "From": PHONE,
                "To": "+15005550006",
                "Body": "safe",
                field: value,
            }
            # Signed as the server reads them: Werkzeug keeps invalid UTF-8 percent-encoded.
            invalid = SHAPES["invalid-utf8-surrogate"]
            signed = {k: ("%ED%A0%80" if v == invalid else v) for k, v in params.items()}
            r = client.post(
                path,
                data=_encode(params),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": sign(signed, path)},
            )
            assert r.status_code == 200, (field, shape, r.get_data(as_text=True)[:300])
            assert r.get_data(as_text=True) == EMPTY_TWIML
