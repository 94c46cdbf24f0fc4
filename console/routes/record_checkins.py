"""The record's Check-ins tab (read only): the survivor's check-in schedules and their latest
occurrences with their states.

The same service as the API's ``GET /v1/staff/survivors/{id}/check-ins``
(``messaging.checkins.service.staff_checkins``), under the same action name. The survivor sets
her check-ins in her app; nothing here changes them, and nothing she wrote (her own SMS text,
reply codes, quiet windows) is shown.
"""

from __future__ import annotations

import uuid

from flask import Response

from auth.access.permissions import CASEWORKER
from console.pages import bp, me, survivor_access
from console.record import TABS, Tab, render_tab
from messaging.checkins import service as checkins
from web.access import allow
from web.db import session

TAB = "console.checkins"
TABS.append(Tab(TAB, "Check-ins"))

STATE_WORDS = {
    "scheduled": "Scheduled",
    "sent": "Sent, waiting for a reply",
    "safe": "Answered: safe",
    "help": "Answered: needs help",
    "missed": "Missed",
    "escalated": "Missed or help: escalated",
    "acknowledged": "Escalated: acknowledged",
    "resolved": "Escalated: resolved",
    "cancelled": "Cancelled",
}
# Occurrences an advocate should notice at a glance.
ALARMING = frozenset({"help", "missed", "escalated"})
DAY_WORDS = {
    "mon": "Mon",
    "tue": "Tue",
    "wed": "Wed",
    "thu": "Thu",
    "fri": "Fri",
    "sat": "Sat",
    "sun": "Sun",
}


@bp.get("/survivors/<uuid:survivor_id>/check-ins", endpoint="checkins")
@allow(CASEWORKER)
def checkins_page(survivor_id: uuid.UUID) -> Response:
    access = survivor_access(survivor_id, checkins.STAFF_READ)
    view = checkins.staff_checkins(session(), access)
    return render_tab(
        "checkins.html",
        survivor_id,
        TAB,
        principal=me(),
        view=view,
        state_words=STATE_WORDS,
        alarming=ALARMING,
        day_words=DAY_WORDS,
    )
