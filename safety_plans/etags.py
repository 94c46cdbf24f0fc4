"""A plan version's ETag, and the If-Match header a write must send.

Each version has a new id, so a strong tag naming the id names exactly one version; a write
whose If-Match does not name the current version is refused (``safety_plans.plans``).
"""

from __future__ import annotations

import uuid

from core.errors import PreconditionRequired


def etag_for(version_id: uuid.UUID) -> str:
    """A strong ETag naming the version (a new version always has a new id)."""
    return f'"{version_id}"'


def parse_if_match(header: str | None) -> set[str]:
    """The entity tags of an If-Match header; 428 when it is missing."""
    if header is None or not header.strip():
        raise PreconditionRequired("Send If-Match with the ETag of the plan you edited.")
    tags = set()
    for raw in header.split(","):
        tag = raw.strip()
        # Weak tags never match in If-Match (RFC 9110 13.1.1 uses strong comparison), and
        # "*" would let a client skip the check it exists for.
        if tag.startswith('"') and tag.endswith('"') and len(tag) >= 2:
            tags.add(tag)
    return tags


def version_id_of(etag: str | None) -> uuid.UUID | None:
    """The version a strong ETag of ``etag_for`` names; None for anything else (a form's
    hidden field can be tampered with: what it names is then simply not known)."""
    if etag is None or len(etag) != 38:
        return None
    try:
        version_id = uuid.UUID(etag[1:-1])
    except ValueError:
        return None
    return version_id if etag_for(version_id) == etag else None
