"""What was sealed before the associated data moved into ``core.crypto.Binding`` still opens.

Each ciphertext here is made the way the code made it before, with the associated data built
by hand in the domain module (copied below, byte for byte), and opened through today's code.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from types import SimpleNamespace
from typing import Any, cast

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from auth.staff import phone as staff_phone
from auth.staff import totp
from auth.staff.models import StaffMember
from coordination import webhooks
from coordination.deps import CoordinationDeps
from coordination.models import AgencyWebhook
from core import crypto
from core.crypto import KeyRing
from messaging.sms import sending
from safety_plans import attachments

RING = KeyRing.generate()
STAFF, AGENCY, ROW, SURVIVOR = (uuid.uuid4() for _ in range(4))


def _sealed_before(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    # The format of the former core.crypto.aead_encrypt: version, nonce, AES-GCM body.
    nonce = os.urandom(crypto.NONCE_BYTES)
    return bytes([1]) + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def test_a_totp_seed_sealed_before_still_opens() -> None:
    key = RING.purpose_key(totp.KEY_PURPOSE)
    for column in (totp.ACTIVE_COLUMN, totp.PENDING_COLUMN):
        old = _sealed_before(key, b"JBSWY3DPEHPK3PXP", f"staff_members|{column}|{STAFF}".encode())
        assert totp.open_seed(RING, STAFF, old, column=column) == "JBSWY3DPEHPK3PXP"


def test_a_duty_phone_sealed_before_still_opens() -> None:
    key = RING.purpose_key(staff_phone.PURPOSE)
    old = _sealed_before(key, b"+447700900123", f"staff_members|phone_enc|{STAFF}".encode())
    member = StaffMember(id=STAFF, phone_enc=old)
    assert staff_phone.staff_phone(RING, member) == "+447700900123"


def test_an_attachment_file_sealed_before_still_opens() -> None:
    key = crypto.random_key()
    old = _sealed_before(key, b"%PDF-1.7 ...", f"journal-attachment|{ROW}|{SURVIVOR}".encode())
    binding = attachments.blob_binding(ROW, SURVIVOR)
    assert crypto.open_with_key(key, binding, old) == b"%PDF-1.7 ..."


def test_a_webhook_secret_sealed_before_still_opens() -> None:
    key = RING.purpose_key(webhooks.PURPOSE)
    aad = f"coordination_webhooks|secret|{AGENCY}".encode()
    hook = AgencyWebhook(
        agency_id=AGENCY,
        secret_enc=_sealed_before(key, b"whsec_current", aad),
        previous_secret_enc=_sealed_before(key, b"whsec_previous", aad),
        previous_valid_until=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )
    deps = cast(CoordinationDeps, SimpleNamespace(keyring=RING))
    now = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
    assert webhooks.secrets_for_signing(deps, hook, now) == ["whsec_current", "whsec_previous"]


def test_a_text_to_staff_sealed_before_still_opens() -> None:
    key = RING.purpose_key(sending.STAFF_KEY_PURPOSE)
    texts: dict[str, Any] = {"to_enc": b"+447700900123", "body_enc": b"Urgent: call in"}
    for column, plaintext in texts.items():
        aad = f"outbound_sms|{column}|{ROW}|{STAFF}".encode()  # once Binding(...).associated_data()
        old = _sealed_before(key, plaintext, aad)
        binding = sending.staff_binding(ROW, column, STAFF)
        assert crypto.open_with_key(key, binding, old) == plaintext


def test_what_is_sealed_now_is_what_was_sealed_before() -> None:
    # The other way round: a ciphertext written today opens with the associated data of before
    # (so a rollback of this code would still read it).
    key = RING.purpose_key(totp.KEY_PURPOSE)
    sealed = totp.seal_seed(RING, STAFF, "JBSWY3DPEHPK3PXP", column=totp.ACTIVE_COLUMN)
    nonce, body = sealed[1 : 1 + crypto.NONCE_BYTES], sealed[1 + crypto.NONCE_BYTES :]
    aad = f"staff_members|{totp.ACTIVE_COLUMN}|{STAFF}".encode()
    assert AESGCM(key).decrypt(nonce, body, aad) == b"JBSWY3DPEHPK3PXP"
