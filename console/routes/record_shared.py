"""The Shared tab, read only: what was shared about the survivor, with whom and on what basis
(the disclosure log), and what agencies reported about the abuser (agency events).

Each list is reached as ``/v1`` reaches it (``disclosure.list``, ``agency_event.list``), so the
survivor's access log reads the same whichever door was used.
"""

from __future__ import annotations

import uuid

from flask import Response

from auth.access.permissions import CASEWORKER
from console.pages import bp, me, survivor_access
from console.record import TABS, Tab, render_tab
from coordination import disclosures, events
from coordination.deps import CoordinationDeps
from web.access import allow
from web.db import runtime, session

TAB = "console.shared"
TABS.append(Tab(TAB, "Shared"))

WHAT_TEXT = {"alert": "Alert", "event": "Event reported", "lawful_share": "Shared without consent"}
BASIS_TEXT = {
    "consent": "the survivor's consent",
    "vital_interests": "without consent: vital interests",
    "safeguarding": "without consent: safeguarding",
    "agency_report": "reported by the agency",
}


@bp.get("/survivors/<uuid:survivor_id>/shared")
@allow(CASEWORKER)
def shared(survivor_id: uuid.UUID) -> Response:
    s, deps = session(), runtime().collaborators.need(CoordinationDeps)
    log = disclosures.list_for(s, survivor_access(survivor_id, "disclosure.list"), deps)
    reported = events.list_for_staff(s, survivor_access(survivor_id, "agency_event.list"), deps)
    return render_tab(
        "record_shared.html",
        survivor_id,
        TAB,
        principal=me(),
        disclosures=log,
        events=reported,
        what_text=WHAT_TEXT,
        basis_text=BASIS_TEXT,
    )
