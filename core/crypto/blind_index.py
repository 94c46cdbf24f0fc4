"""Phone numbers: normalised to E.164, stored encrypted, and found by a blind index, an
HMAC-SHA256 under a purpose key of the key ring (``KeyRing.keyed_digest``)."""

from __future__ import annotations

import re

import phonenumbers

from core.crypto.keyring import KeyRing
from core.errors import InvalidInput

# Digits and the punctuation people type around them; nothing else. phonenumbers on its own
# turns letters into keypad digits ("+44 7911 123ABC" -> +447911123222) and drops extensions,
# control characters and "tel:" prefixes: a typo would silently become a stranger's number,
# and a check-in SMS to a stranger can reveal the service.
_PHONE_CHARS = re.compile(r"[0-9+\-(). ]{1,40}")


def _not_a_phone() -> InvalidInput:
    return InvalidInput("not a phone number", errors={"phone": ["Not a valid phone number."]})


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """E.164 form of a phone number, or InvalidInput (the number itself is never echoed)."""
    if not isinstance(raw, str) or not _PHONE_CHARS.fullmatch(raw):
        raise _not_a_phone()
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise _not_a_phone() from None
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        raise _not_a_phone()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_index(ring: KeyRing, e164: str) -> str:
    """The blind index a phone number is found by; the number itself is stored encrypted."""
    return ring.keyed_digest("phone-index", e164)


def decoy_phone_index(ring: KeyRing, e164: str) -> str:
    """A decoy account's blind index for its number, under a purpose key of its own: the same
    number never has the same index in a decoy and in a real account, so a decoy's number can
    never be found where real survivors' numbers are."""
    return ring.keyed_digest("decoy-phone-index", e164)
