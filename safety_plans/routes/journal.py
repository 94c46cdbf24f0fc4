"""Evidence journal routes: the survivor writes; an advocate reads only while it is shared."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from auth.access.permissions import CASEWORKER, SURVIVOR
from core.errors import InvalidInput
from safety_plans import attachments, bundle, journal
from safety_plans.entries import EntryIn
from safety_plans.routes.common import COMMON_ERRORS, staff_access, survivor_access
from safety_plans.schemas import (
    AttachmentInfoSchema,
    EntryCreateSchema,
    EntryListSchema,
    EntrySchema,
    UploadSchema,
)
from web.access import allow
from web.db import runtime
from web.route_docs import refusals

blp = Blueprint(
    "journal",
    __name__,
    description="Evidence journal: sealed, hash-chained entries, attachments, verifiable export.",
)

READ, WRITE = "journal.read", "journal.write"
BINARY = {"type": "string", "format": "binary"}


def _binary(data: bytes, mimetype: str, filename: str) -> Response:
    # Always a download, never rendered inline: nothing in it may run in a browser.
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@allow(SURVIVOR)
@blp.route("/survivor/journal/entries")
class SurvivorEntries(MethodView):
    @blp.response(200, EntryListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """The whole journal in order, corrections and deletion records included."""
        s, access, clock, d = survivor_access(READ)
        return {"entries": [v.dump() for v in journal.list_entries(s, access, clock, d)]}

    @blp.arguments(EntryCreateSchema)
    @blp.response(201, EntrySchema)
    @refusals(blp, *COMMON_ERRORS, 409, 422, 429)
    def post(self, body: EntryIn) -> Any:
        """Record what happened (immutable: corrections are new entries with `amends`)."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        return journal.create_entry(s, access, clock, d, entry=body).dump()


@allow(SURVIVOR)
@blp.route("/survivor/journal/entries/<uuid:entry_id>")
class SurvivorEntry(MethodView):
    @blp.response(200, EntrySchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, entry_id: uuid.UUID) -> Any:
        """One entry."""
        s, access, clock, d = survivor_access(READ)
        return journal.get_entry(s, access, clock, d, entry_id=entry_id).dump()

    @blp.response(204)
    @refusals(blp, *COMMON_ERRORS, 409)
    def delete(self, entry_id: uuid.UUID) -> Any:
        """Delete an entry: its content and attachments are destroyed; the chain records it."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        journal.delete_entry(s, access, clock, d, entry_id=entry_id)
        return None


@allow(SURVIVOR)
@blp.route("/survivor/journal/attachments")
class SurvivorAttachments(MethodView):
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, AttachmentInfoSchema)
    @refusals(blp, *COMMON_ERRORS, 413, 415, 422)
    def post(self, files: dict[str, Any]) -> Any:
        """Upload a photo, recording or PDF (multipart field `file`), then name it in an entry."""
        s, access, clock, d = survivor_access(WRITE, write=True)
        upload = files["file"]
        limit = d.settings.attachment_max_bytes
        data = upload.stream.read(limit + 1)
        if not isinstance(data, bytes):
            raise InvalidInput("no file", errors={"file": ["Send a file."]})
        return attachments.upload(s, access, clock, d, data=data)


@allow(SURVIVOR)
@blp.route("/survivor/journal/attachments/<uuid:attachment_id>")
class SurvivorAttachment(MethodView):
    @blp.response(200, BINARY, content_type="application/octet-stream")
    @refusals(blp, *COMMON_ERRORS)
    def get(self, attachment_id: uuid.UUID) -> Any:
        """An attachment's bytes (its media type is listed on the entry)."""
        s, access, clock, d = survivor_access(READ)
        info, data = attachments.fetch(s, access, clock, d, attachment_id=attachment_id)
        return _binary(data, "application/octet-stream", info.id.hex)


@allow(SURVIVOR)
@blp.route("/survivor/journal/export")
class SurvivorExport(MethodView):
    @blp.response(200, BINARY, content_type="application/zip")
    @refusals(blp, *COMMON_ERRORS)
    def get(self) -> Any:
        """A zip of entries, attachments and the chain manifest (`lantern journal verify`)."""
        s, access, clock, d = survivor_access("journal.export")
        return _binary(
            bundle.export(s, access, clock, d, runtime().keyring), "application/zip", "journal.zip"
        )


STAFF = "/staff/survivors/<uuid:survivor_id>/journal"


@allow(CASEWORKER)
@blp.route(STAFF + "/entries")
class StaffEntries(MethodView):
    @blp.response(200, EntryListSchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """The survivor's journal, while they share it with their advocate."""
        s, access, clock, d = staff_access(survivor_id, READ)
        return {"entries": [v.dump() for v in journal.list_entries(s, access, clock, d)]}


@allow(CASEWORKER)
@blp.route(STAFF + "/entries/<uuid:entry_id>")
class StaffEntry(MethodView):
    @blp.response(200, EntrySchema)
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID, entry_id: uuid.UUID) -> Any:
        """One entry."""
        s, access, clock, d = staff_access(survivor_id, READ, subject=("journal_entry", entry_id))
        return journal.get_entry(s, access, clock, d, entry_id=entry_id).dump()


@allow(CASEWORKER)
@blp.route(STAFF + "/attachments/<uuid:attachment_id>")
class StaffAttachment(MethodView):
    @blp.response(200, BINARY, content_type="application/octet-stream")
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID, attachment_id: uuid.UUID) -> Any:
        """An attachment of a shared journal entry."""
        s, access, clock, d = staff_access(
            survivor_id, READ, subject=("journal_attachment", attachment_id)
        )
        info, data = attachments.fetch(s, access, clock, d, attachment_id=attachment_id)
        return _binary(data, "application/octet-stream", info.id.hex)


@allow(CASEWORKER)
@blp.route(STAFF + "/export")
class StaffExport(MethodView):
    @blp.response(200, BINARY, content_type="application/zip")
    @refusals(blp, *COMMON_ERRORS)
    def get(self, survivor_id: uuid.UUID) -> Any:
        """The shared journal as a verifiable zip (e.g. to prepare evidence with the survivor)."""
        s, access, clock, d = staff_access(survivor_id, "journal.export")
        return _binary(
            bundle.export(s, access, clock, d, runtime().keyring), "application/zip", "journal.zip"
        )
