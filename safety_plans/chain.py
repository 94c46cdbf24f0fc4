"""The journal's hash chain: canonical digests shared by the service and the offline verifier.

Nothing here touches a database or a key, so ``lantern journal verify`` can check an exported
bundle anywhere. An entry's content digest covers its full canonical content, including a
random salt; a link's hash covers the previous link's hash and the entry's place in the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
LINK_FIELDS = ("seq", "id", "entry_type", "refers_to", "recorded_at", "content_digest")


def canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def link_hash(prev_hash: str, link: dict[str, Any]) -> str:
    fields = {name: link.get(name) for name in LINK_FIELDS}
    return hashlib.sha256(prev_hash.encode() + canonical(fields)).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
