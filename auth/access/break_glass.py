"""Break-glass: a supervisor's recorded, time-limited, read-only access to one survivor.

A supervisor not on the survivor's caseload may need to read the record in an emergency (the
advocate is off sick and a duress alert came in). Because the supervisor may also be the
insider the survivor fears, every grant:

- needs a fresh second factor (step-up) and a written reason (10 to 2000 characters),
  sealed with the survivor's data key, since it describes the survivor's situation;
- lasts ``GRANT_LIFETIME`` and gives read access only (``require_survivor_access`` refuses
  writes through it);
- is written to the audit log, which the survivor sees in their access log;
- is notified at once, urgently, to every other active supervisor. With no other supervisor,
  the admins are told instead (they see the fact, never the reason or the record), and the
  response says who was told. With nobody else at all, the glass stays shut: an access
  nobody else would ever hear of is exactly what an insider abuser would want.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.models import BreakGlassGrant
from auth.principals import StaffPrincipal
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.crypto import Binding
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id
from core.notices import notify_staff
from core.vault import Vault

GRANT_LIFETIME = dt.timedelta(hours=1)
REASON_MIN = 10
REASON_MAX = 2000


@dataclass(frozen=True, slots=True)
class BreakGlassResult:
    """The grant, and who was told of it (``BreakGlassGrantSchema`` dumps it as it is)."""

    grant: BreakGlassGrant
    notified_role: str  # supervisor or admin
    notified_count: int

    @property
    def grant_id(self) -> uuid.UUID:
        return self.grant.id

    @property
    def survivor_id(self) -> uuid.UUID:
        return self.grant.survivor_id

    @property
    def expires_at(self) -> dt.datetime:
        return self.grant.expires_at


def reason_binding(grant: BreakGlassGrant) -> Binding:
    return Binding("break_glass_grants", "reason_enc", grant.id, grant.survivor_id)


def _active_staff(session: Session, role: str, exclude: uuid.UUID) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(StaffMember.id)
            .where(
                StaffMember.role == role,
                StaffMember.disabled_at.is_(None),
                StaffMember.id != exclude,
            )
            .order_by(StaffMember.id)
        )
    )


def open_break_glass(
    session: Session,
    clock: Clock,
    vault: Vault,
    supervisor: StaffPrincipal,
    survivor_id: uuid.UUID,
    reason: str,
) -> BreakGlassResult:
    """Record a break-glass grant for the calling supervisor, seal its reason, tell others.

    The view has checked the step-up (``require_fresh_second_factor``) before calling."""
    survivor = session.get(Survivor, survivor_id)
    if survivor is None or survivor.erased_at is not None or survivor.decoy_of is not None:
        raise NotFound()  # a decoy account is nobody's case (``auth.survivors.decoys``)
    reason = reason.strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidInput(
            "Give the reason in 10 to 2000 characters.",
            errors={"reason": [f"Length must be between {REASON_MIN} and {REASON_MAX}."]},
        )
    notified_role = "supervisor"
    recipients = _active_staff(session, "supervisor", supervisor.staff_id)
    if not recipients:
        notified_role = "admin"
        recipients = _active_staff(session, "admin", supervisor.staff_id)
    if not recipients:
        raise Conflict(
            "Nobody else could be told about this break-glass, so it is refused. "
            "Ask an admin to add a second supervisor."
        )
    now = clock.now()
    grant = BreakGlassGrant(
        id=new_id(),
        supervisor_id=supervisor.staff_id,
        survivor_id=survivor.id,
        reason_enc=b"",
        created_at=now,
        expires_at=now + GRANT_LIFETIME,
    )
    grant.reason_enc = vault.seal(session, reason_binding(grant), reason)
    session.add(grant)
    session.flush()
    audit.record(
        session,
        clock,
        supervisor.actor,
        "break_glass.open",
        subject_kind="break_glass_grant",
        subject_id=grant.id,
        survivor_id=survivor.id,
        details={"notified_role": notified_role, "notified_count": len(recipients)},
    )
    notify_staff(
        session,
        clock,
        recipients,
        "break_glass",
        urgency="urgent",
        survivor_id=survivor.id,
        details={
            "grant_id": str(grant.id),
            "supervisor_id": str(supervisor.staff_id),
            "expires_at": grant.expires_at.isoformat(),
        },
    )
    return BreakGlassResult(grant, notified_role, len(recipients))
