"""A survivor's own phone number: set or cleared by the survivor, sealed, found by blind index.

A number may be held by more than one survivor (two people sharing a household phone, or a
relative who is also in touch with the service). Setting it answers the same, and does the
same work, whoever else holds it: a refusal would tell whoever forced the PIN that the number
is known to a domestic-abuse service. How a text from a shared number is routed is in
``messaging/sms/webhooks.py``.

A decoy account's number is sealed like any, and texted its own check-ins like any (a real
account texts whatever number is entered, so this reaches nobody new). It is found under a
blind index of its own (``core.crypto.decoy_phone_index``), never under ``phone_index``: a
number set in a decoy never makes a real survivor's number shared, and only the decoy's own
check-in reply codes ever reach it (``messaging/sms/webhooks.py``, ``auth.survivors.decoys``).
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from auth.survivors.models import Survivor
from core.crypto import Binding, decoy_phone_index, normalize_phone, phone_index
from core.errors import NotFound
from core.vault import Vault


def _binding(survivor_id: uuid.UUID) -> Binding:
    return Binding("survivors", "phone_enc", survivor_id, survivor_id)


def set_phone(session: Session, vault: Vault, survivor_id: uuid.UUID, raw: str) -> bool:
    """Store the survivor's number, looking at no other survivor. Returns True when the number
    changed."""
    survivor = session.get(Survivor, survivor_id)
    if survivor is None:
        raise NotFound()
    e164 = normalize_phone(raw)
    if survivor.decoy_of is not None:
        index = decoy_phone_index(vault.ring, e164)
        if survivor.decoy_phone_index == index:
            return False
        if survivor.decoy_phone_index is None and survivor_phone(session, vault, survivor) == e164:
            survivor.decoy_phone_index = index  # set before decoys had an index: unchanged
            session.flush()
            return False
        survivor.decoy_phone_index = index
    else:
        index = phone_index(vault.ring, e164)
        if survivor.phone_index == index:
            return False
        survivor.phone_index = index
    survivor.phone_enc = vault.seal(session, _binding(survivor_id), e164)
    session.flush()
    return True


def clear_phone(session: Session, survivor_id: uuid.UUID) -> bool:
    """Forget the survivor's number; returns True when there was one."""
    # Locked, as scheduling an SMS check-in locks it (checkins.arrangements): never a new SMS
    # check-in for a number that is gone.
    survivor = session.get(Survivor, survivor_id, with_for_update=True)
    if survivor is None:
        raise NotFound()
    if survivor.phone_enc is None:
        return False
    survivor.phone_enc = None
    survivor.phone_index = None
    survivor.decoy_phone_index = None
    session.flush()
    return True


def survivor_phone(session: Session, vault: Vault, survivor: Survivor) -> str | None:
    """The survivor's number in clear, for sending (never logged, never returned by the API)."""
    if survivor.phone_enc is None:
        return None
    return vault.open_text(session, _binding(survivor.id), survivor.phone_enc)
