"""Case labels: the name an advocate gives a survivor on staff screens, where ids are unusable.

A label is the advocate's working name for the case ("Sam, Tuesday group"): it may identify
her, so it is survivor content. It is

- sealed with the survivor's data key (``Binding("case_labels", "label_enc", survivor id,
  survivor id)``), so it cannot be moved to another survivor's row and it is shredded with her
  data key;
- read and written only by staff who reach her record: a write needs her caseload (the view
  asks ``require_staff_access(..., write=True)``; break-glass is read-only), a read comes with
  the record (``caseload.survivor_summary``) or, for the caseload page, only for survivors on
  the reader's own caseload (``case_labels``);
- never shown to the survivor's app (the person holding the phone may be the abuser, and the
  label is the advocate's words, not hers) and never sent to a partner agency: nothing in
  ``coordination`` imports this module (``pyproject.toml`` has an import contract for it);
- audited on every change against the survivor, without its text.

A decoy account is nobody's case and an erased survivor has no label: neither is ever read
or written here.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth.access.models import CaseLabel, CaseloadEntry
from auth.access.permissions import SurvivorAccess
from auth.principals import StaffPrincipal
from auth.survivors.models import Survivor
from core import audit
from core.clock import Clock
from core.crypto import Binding
from core.db import is_postgres
from core.errors import Forbidden, InvalidInput, NotFound
from core.vault import Vault

LABEL_MAX = 80
#: Survivors per query of a batch read: far above a caseload page, far below any backend's
#: limit on bound parameters.
BATCH = 500
FIELD = "case_label"

# Bidirectional embeddings, overrides and isolates reorder what is shown after them, so a
# label could make the next one on the caseload page read as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Control characters (C0, C1: NUL, tab, newline...), lone surrogates (not text: they cannot
# be encoded, sealed or stored), and line or paragraph separators: a label is one line.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class CaseLabelView:
    """One survivor's label, and who last set it."""

    survivor_id: uuid.UUID
    text: str
    updated_by: uuid.UUID
    updated_at: dt.datetime


def binding(survivor_id: uuid.UUID) -> Binding:
    """Where a label's ciphertext belongs: its survivor's row, under her key."""
    return Binding("case_labels", "label_enc", survivor_id, survivor_id)


def clean_label(raw: str | None) -> str | None:
    """The label to store (trimmed, NFC), or None to clear it; InvalidInput when it is not
    one line of 1 to ``LABEL_MAX`` printable characters."""
    if raw is None:
        return None
    # Trimmed first: a newline pasted after the name is not part of it.
    label = raw.strip()
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES or c in _BIDI_CONTROLS for c in label):
        raise InvalidInput(
            "A case label is one line of text, without control characters.",
            errors={FIELD: ["Must not contain control characters."]},
        )
    label = unicodedata.normalize("NFC", label)
    if not label:
        return None
    if len(label) > LABEL_MAX:
        raise InvalidInput(
            f"A case label holds at most {LABEL_MAX} characters.",
            errors={FIELD: [f"Longer than maximum length {LABEL_MAX}."]},
        )
    return label


def _staff(access: SurvivorAccess) -> StaffPrincipal:
    # The views reach the record through ``require_staff_access``. This is kept as a guard all
    # the same: a survivor's own access (from her app) must never read or write the label, and
    # a new caller passing one would otherwise show it to whoever holds her phone.
    principal = access.principal
    if not isinstance(principal, StaffPrincipal):
        raise Forbidden("Case labels are for staff.")
    return principal


def _open(session: Session, vault: Vault, row: CaseLabel) -> str:
    return vault.open_text(session, binding(row.survivor_id), row.label_enc)


def _view(row: CaseLabel, text: str) -> CaseLabelView:
    return CaseLabelView(row.survivor_id, text, row.updated_by, row.updated_at)


def set_case_label(
    session: Session,
    access: SurvivorAccess,
    clock: Clock,
    vault: Vault,
    *,
    label: str | None,
) -> CaseLabelView | None:
    """Set (or, with None or blank text, clear) the survivor's label; audited without its text.

    ``access`` must come from ``require_staff_access(..., write=True)``: a caseload, since
    break-glass is read-only. Answers the label now stored, or None when cleared.
    """
    staff = _staff(access)
    if access.via != "caseload":
        # Break-glass reads only; a caller that forgot ``write=True`` is refused here too.
        raise NotFound()
    text = clean_label(label)
    # Writers of one survivor's label queue on her row (FOR NO KEY UPDATE: rows that only
    # refer to her, a message or a check-in, are not held up), so that two first labels at
    # once cannot both insert, and the last writer's label is the one kept.
    survivor = session.get(
        Survivor,
        access.survivor_id,
        with_for_update={"key_share": True} if is_postgres(session) else None,
    )
    if survivor is None or survivor.erased_at is not None or survivor.decoy_of is not None:
        raise NotFound()
    row = session.get(CaseLabel, survivor.id, populate_existing=True)
    result: CaseLabelView | None = None
    if text is None:
        if row is not None:
            session.delete(row)
    else:
        sealed = vault.seal(session, binding(survivor.id), text)
        if row is None:
            row = CaseLabel(survivor_id=survivor.id, label_enc=sealed)
            session.add(row)
        row.label_enc, row.updated_by, row.updated_at = sealed, staff.staff_id, clock.now()
        result = _view(row, text)
    session.flush()
    # The text stays out of the log: the survivor's access log shows the event, and whoever
    # reads it there (perhaps on her phone) must not read the advocate's words.
    audit.record(
        session,
        clock,
        staff.actor,
        "case_label.set" if result is not None else "case_label.clear",
        subject_kind="survivor",
        subject_id=survivor.id,
        survivor_id=survivor.id,
    )
    return result


def get_case_label(session: Session, access: SurvivorAccess, vault: Vault) -> CaseLabelView | None:
    """The label of the survivor whose record the caller reached (caseload or break-glass;
    the view's ``require_staff_access`` audited the read), or None."""
    _staff(access)
    survivor = session.get(Survivor, access.survivor_id)
    if survivor is None or survivor.erased_at is not None or survivor.decoy_of is not None:
        return None
    row = session.get(CaseLabel, survivor.id)
    return None if row is None else _view(row, _open(session, vault, row))


def case_labels(
    session: Session,
    staff: StaffPrincipal,
    vault: Vault,
    *,
    survivor_ids: Collection[uuid.UUID],
) -> dict[uuid.UUID, str]:
    """The labels of those of ``survivor_ids`` on the caller's own caseload, by survivor id
    (survivors without a label, or not on it, are absent), for a caseload page.

    A constant number of queries whatever the number of survivors (up to ``BATCH`` of them):
    one for the rows, one for their survivors' data keys; each label is then opened in
    memory. The caseload itself is a list of the caller's own cases, not a read of one
    record, so, like the caseload, this is not audited per survivor.
    """
    wanted = list(dict.fromkeys(survivor_ids))
    out: dict[uuid.UUID, str] = {}
    for start in range(0, len(wanted), BATCH):
        rows = list(
            session.scalars(
                select(CaseLabel)
                .join(Survivor, Survivor.id == CaseLabel.survivor_id)
                .join(CaseloadEntry, CaseloadEntry.survivor_id == CaseLabel.survivor_id)
                .where(
                    CaseLabel.survivor_id.in_(wanted[start : start + BATCH]),
                    CaseloadEntry.staff_id == staff.staff_id,
                    Survivor.erased_at.is_(None),
                    Survivor.decoy_of.is_(None),
                )
            )
        )
        vault.preload(session, [row.survivor_id for row in rows])
        out.update((row.survivor_id, _open(session, vault, row)) for row in rows)
    return out
