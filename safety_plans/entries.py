"""A journal entry's shapes: what the survivor writes, what the chain seals, what is shown.

``EntryContent`` is hashed into the chain exactly as it is stored (``chain.content_digest``),
so it keeps every field of an entry, given or not; the verifier reads the same JSON offline.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import NotRequired, Required, TypedDict

# The Power and Control wheel's tactics, and the harms the issue adds to them.
KINDS: tuple[str, ...] = (
    "using_intimidation",
    "using_emotional_abuse",
    "using_isolation",
    "minimizing_denying_blaming",
    "using_children",
    "using_privilege",
    "using_economic_abuse",
    "using_coercion_and_threats",
    "physical_violence",
    "sexual_violence",
    "stalking",
    "technology_abuse",
    "breach_of_order",
)


class EntryIn(TypedDict, total=False):
    """An entry as ``EntryCreateSchema`` loads it."""

    occurred_on: dt.date | None
    occurred_text: str | None
    kinds: Required[list[str]]
    description: Required[str]
    injuries: str | None
    witnesses: str | None
    police_reference: str | None
    amends: uuid.UUID | None
    attachment_ids: list[uuid.UUID]


class AttachmentRef(TypedDict):
    """An attachment as its entry's content names it: the digest binds the file to the chain."""

    id: str
    media_type: str
    size: int
    sha256: str


class EntryContent(TypedDict, total=False):
    """What one link vouches for: an entry's fields (``amends`` names the entry it corrects),
    or a deletion link's ``id``, ``deletes`` and ``salt``."""

    id: str
    salt: str
    occurred_on: str | None  # ISO date
    occurred_text: str | None
    kinds: list[str]
    description: str | None
    injuries: str | None
    witnesses: str | None
    police_reference: str | None
    amends: str | None
    attachments: list[AttachmentRef]
    deletes: str


class AttachmentOut(TypedDict):
    id: str
    media_type: str
    size: int


class EntryOut(TypedDict):
    """An entry as ``EntrySchema`` dumps it as it is: a deletion link, or an entry whose
    content was erased, has none of the content's fields."""

    id: uuid.UUID
    seq: int
    entry_type: str
    recorded_at: dt.datetime
    refers_to: uuid.UUID | None
    deleted: bool
    amended_by: list[uuid.UUID]
    occurred_on: NotRequired[str | None]
    occurred_text: NotRequired[str | None]
    kinds: NotRequired[list[str] | None]
    description: NotRequired[str | None]
    injuries: NotRequired[str | None]
    witnesses: NotRequired[str | None]
    police_reference: NotRequired[str | None]
    attachments: NotRequired[list[AttachmentOut]]


@dataclass(frozen=True, slots=True)
class EntryView:
    id: uuid.UUID
    seq: int
    entry_type: str  # entry, deletion
    recorded_at: dt.datetime
    refers_to: uuid.UUID | None
    deleted: bool
    content: EntryContent | None
    amended_by: list[uuid.UUID] = field(default_factory=list)

    def dump(self) -> EntryOut:
        out: EntryOut = {
            "id": self.id,
            "seq": self.seq,
            "entry_type": self.entry_type,
            "recorded_at": self.recorded_at,
            "refers_to": self.refers_to,
            "deleted": self.deleted,
            "amended_by": self.amended_by,
        }
        content = self.content
        if content is not None and self.entry_type == "entry":
            out["occurred_on"] = content.get("occurred_on")
            out["occurred_text"] = content.get("occurred_text")
            out["kinds"] = content.get("kinds")
            out["description"] = content.get("description")
            out["injuries"] = content.get("injuries")
            out["witnesses"] = content.get("witnesses")
            out["police_reference"] = content.get("police_reference")
            out["attachments"] = [
                {"id": a["id"], "media_type": a["media_type"], "size": a["size"]}
                for a in content.get("attachments", [])
            ]
        return out
