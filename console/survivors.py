"""How the console names survivors on screen: the advocate-set case label (encrypted, read only
from the caller's own caseload), or a neutral placeholder with a short reference when none is
set (never anything else from the record)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session

from auth.access.case_labels import case_labels
from auth.principals import StaffPrincipal
from core.vault import Vault


def placeholder(survivor_id: uuid.UUID) -> str:
    return f"Unlabelled case {str(survivor_id)[:8]}"


def is_placeholder(survivor_id: uuid.UUID, name: str) -> bool:
    return name == placeholder(survivor_id)


def labels_for(
    session: Session, staff: StaffPrincipal, vault: Vault, survivor_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The name to show for each survivor (two queries, whatever their number)."""
    wanted = list(dict.fromkeys(survivor_ids))
    labels = case_labels(session, staff, vault, survivor_ids=wanted)
    return {sid: labels.get(sid) or placeholder(sid) for sid in wanted}
