"""The record's Journal tab: the entries the survivor shares with staff, their attachments
(photos shown inline, anything else as a download) and the signed evidence bundle.

The same services as the API's staff journal endpoints (``safety_plans.routes.journal``), under
the same action names: ``journal.list_entries``, ``attachments.fetch`` (which refuses an
attachment of another survivor, one not yet in an entry, and everything while the journal is
not shared) and ``bundle.export``. Read only: only the survivor writes their journal.
"""

from __future__ import annotations

import uuid

from flask import Response

from auth.access.permissions import CASEWORKER
from console.pages import bp, me, survivor_access
from console.record import TABS, Tab, render_tab
from core.crypto import KeyRing
from safety_plans import attachments, bundle, journal, profile
from safety_plans.deps import SafetyPlansDeps
from web.access import allow
from web.db import runtime, session

TAB = "console.journal"
TABS.append(Tab(TAB, "Journal"))

# The API's action names (safety_plans.routes.journal), so the survivor's access log reads the same.
READ, EXPORT = "journal.read", "journal.export"

# Types ``attachments.sniff`` recognised from the file's own bytes: only these are shown inline.
INLINE_IMAGES = frozenset({"image/jpeg", "image/png"})
# A download's file name says what it is, and nothing of its content or its owner.
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/pdf": "pdf",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
}
KIND_NAMES = {
    "using_intimidation": "Intimidation",
    "using_emotional_abuse": "Emotional abuse",
    "using_isolation": "Isolation",
    "minimizing_denying_blaming": "Minimising, denying and blaming",
    "using_children": "Using the children",
    "using_privilege": "Using privilege",
    "using_economic_abuse": "Economic abuse",
    "using_coercion_and_threats": "Coercion and threats",
    "physical_violence": "Physical violence",
    "sexual_violence": "Sexual violence",
    "stalking": "Stalking",
    "technology_abuse": "Technology-facilitated abuse",
    "breach_of_order": "Breach of an order",
}


def _deps() -> SafetyPlansDeps:
    return runtime().collaborators.need(SafetyPlansDeps)


def _keyring() -> KeyRing:
    return runtime().keyring


def _kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind.replace("_", " ").capitalize())


@bp.get("/survivors/<uuid:survivor_id>/journal", endpoint="journal")
@allow(CASEWORKER)
def journal_page(survivor_id: uuid.UUID) -> Response:
    s, clock = session(), runtime().clock
    # While she does not share the journal nothing of it is shown, so the read's access record
    # is rolled back with its savepoint, as ``/v1``'s 404 rolls it back: her access log never
    # says it was read.
    with s.begin_nested() as reached:
        access = survivor_access(survivor_id, READ)
        shared = profile.get_sharing(s, access, clock).journal_shared
        if not shared:
            reached.rollback()
    entries = journal.list_entries(s, access, clock, _deps()) if shared else []
    return render_tab(
        "journal.html",
        survivor_id,
        TAB,
        principal=me(),
        shared=shared,
        entries=entries,
        seq_of={e.id: e.seq for e in entries},
        kind_name=_kind_name,
        inline_images=INLINE_IMAGES,
    )


@bp.get("/survivors/<uuid:survivor_id>/journal/attachments/<uuid:attachment_id>")
@allow(CASEWORKER)
def journal_attachment(survivor_id: uuid.UUID, attachment_id: uuid.UUID) -> Response:
    """One attachment of a shared entry: a photo inline, with the type its bytes were checked
    to be (never one a client claimed); anything else as a download a browser never renders."""
    access = survivor_access(
        survivor_id, READ, subject_kind="journal_attachment", subject_id=attachment_id
    )
    info, data = attachments.fetch(
        session(), access, runtime().clock, _deps(), attachment_id=attachment_id
    )
    name = f"{info.id.hex}.{EXTENSIONS.get(info.media_type, 'bin')}"
    if info.media_type in INLINE_IMAGES:
        response = Response(data, mimetype=info.media_type)
        response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    else:
        response = Response(data, mimetype="application/octet-stream")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    # Said here as well as by every answer's headers (web.security): evidence must not linger
    # in a browser cache, and its type must never be guessed from its bytes.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@bp.get("/survivors/<uuid:survivor_id>/journal/export")
@allow(CASEWORKER)
def journal_export(survivor_id: uuid.UUID) -> Response:
    """The signed evidence bundle the API exports (``lantern journal verify`` checks it)."""
    access = survivor_access(survivor_id, EXPORT)
    data = bundle.export(session(), access, runtime().clock, _deps(), _keyring())
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = 'attachment; filename="journal.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response
