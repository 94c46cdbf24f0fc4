"""flask-smorest's ``Api``, made to document and answer errors as problem+json."""

from __future__ import annotations

import http
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from api.problems import PROBLEM_MIME, handle_http_exception
from core.schemas import ProblemSchema

CONTRACT_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


class LanternApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        # Our handler keeps the exception's headers (Allow on 405, WWW-Authenticate on 401),
        # which flask-smorest's own handler drops, and answers problem+json.
        self._app.register_error_handler(HTTPException, handle_http_exception)

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIME)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIME)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def contract(app: Flask) -> dict[str, Any]:
    """The OpenAPI document as the running app describes itself."""
    api: LanternApi = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    spec: dict[str, Any] = api.spec.to_dict()
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
