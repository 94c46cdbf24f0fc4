"""The committed OpenAPI contract: the document the app describes of itself, every blueprint
registered, and its file ``openapi/openapi.json`` (written and checked by ``lantern openapi``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask

from web.openapi import smorest_api

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def contract(app: Flask) -> dict[str, Any]:
    """The OpenAPI document as the running app describes itself (free-form JSON by design: it
    is written out and compared, never read field by field)."""
    spec: dict[str, Any] = smorest_api(app).spec.to_dict()
    return spec


def render(app: Flask) -> str:
    return json.dumps(contract(app), indent=2, sort_keys=True) + "\n"


def write(app: Flask, path: Path = CONTRACT_PATH) -> bool:
    """Write the contract; returns True when the file changed."""
    text = render(app)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
