"""A survivor's record in the console: one page per tab, each under
``/console/survivors/<survivor_id>/<tab>``, sharing the layout ``record.html``.

Each tab's view reaches the record through ``console.pages.survivor_access`` with the API's own
action name (so the survivor's access log reads the same whichever door was used), then calls
the same services as the API. No survivor content goes in a URL or the page title: the case
label is shown in the page, never in ``<title>``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Response

from console.pages import me, render
from console.survivors import is_placeholder, labels_for
from web.db import runtime, session


@dataclass(frozen=True, slots=True)
class Tab:
    endpoint: str
    label: str


# In the order the tabs are shown; each tab's module adds its own line.
TABS: list[Tab] = []


def render_tab(
    template: str, survivor_id: uuid.UUID, tab: str, *, status: int = 200, **context: Any
) -> Response:
    """A tab of the record, with the record's header and the tab list."""
    label = labels_for(session(), me(), runtime().vault, [survivor_id])[survivor_id]
    # The layout's header (who is signed in, the idle countdown) needs the member.
    context.setdefault("principal", me())
    return render(
        template,
        status=status,
        survivor_id=survivor_id,
        case_label=label,
        label_set=not is_placeholder(survivor_id, label),
        tabs=TABS,
        active_tab=tab,
        active="caseload",
        **context,
    )
