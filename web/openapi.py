"""flask-smorest's ``Api``, made to document and answer errors as problem+json."""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from core.schemas import ProblemSchema
from web import access
from web.problems import PROBLEM_MIME, handle_http_exception

BEARER_SCHEME = "bearerAuth"
PROBLEM_SCHEMA_NAME = "Problem"


class LanternContractPlugin(BasePlugin):  # type: ignore[misc]
    """Facts every operation states the same way, so no view has to remember them.

    - The operations of ``web.access.PUBLIC_ENDPOINTS`` need no credential; the allowlist stays
      the one place that says what is public, and the contract follows it.
    - Every other operation says who may call it (``x-lantern-access``, from its access rule)
      and that it answers 401 without a credential and 403 to the wrong caller.
    - An error response documented without a body (``web.route_docs.refusal`` gives every
      one it documents the problem schema) is a problem+json body, since that is what every
      error is.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self._app = app

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if operations is None:
            return
        rule = kwargs.get("rule")
        public = rule is not None and rule.endpoint in access.PUBLIC_ENDPOINTS
        for method, operation in operations.items():
            if public:
                operation["security"] = []
            elif rule is not None:
                declared = access.rule_for(self._app, rule.endpoint, method.upper())
                operation["x-lantern-access"] = str(declared) if declared else "nobody"
                responses = operation.setdefault("responses", {})
                documented = {str(status) for status in responses}
                for status, name in (("401", "UNAUTHORIZED"), ("403", "FORBIDDEN")):
                    if status not in documented:
                        responses[status] = name
            for status, response in operation.get("responses", {}).items():
                undescribed = isinstance(response, dict) and not {"$ref", "content"} & set(response)
                if _is_error(str(status)) and undescribed:
                    response["content"] = {PROBLEM_MIME: {"schema": PROBLEM_SCHEMA_NAME}}


def _is_error(status: str) -> bool:
    return status == "default" or status[:1] in {"4", "5"}


class LanternApi(Api):  # type: ignore[misc]
    """flask-smorest's ``Api`` with problem+json errors. Everything else is set through its
    public extension points (``spec_kwargs``, the spec's components, Flask's error handlers) by
    ``install``; the one private override left is below, pinned by
    ``tests/api/test_openapi.py::test_every_error_response_is_documented_as_a_problem``."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # No public hook gives the shared error responses (NOT_FOUND, DEFAULT_ERROR...) the
        # problem+json media type; the pinning test above fails if flask-smorest stops calling
        # this.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIME)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (RFC 9457 problem details)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIME)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def install(app: Flask, description: str) -> LanternApi:
    """The app's ``Api``: deny by default in the contract too (every operation needs a bearer
    credential unless public), Lantern's contract plugin, and problem+json error handling."""
    api = LanternApi(
        app,
        spec_kwargs={
            "info": {"description": description},
            "security": [{BEARER_SCHEME: []}],
            "extra_plugins": [LanternContractPlugin(app)],
        },
    )
    api.spec.components.security_scheme(
        BEARER_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An opaque token: staff session, survivor access token or "
            "partner API key.",
        },
    )
    # Ours keeps the exception's headers (Allow on 405, WWW-Authenticate on 401), which
    # flask-smorest's own handler drops, and answers problem+json. Registered after the Api's,
    # it replaces it.
    app.register_error_handler(HTTPException, handle_http_exception)
    return api


def smorest_api(app: Flask) -> LanternApi:
    """The app's flask-smorest ``Api`` (blueprints are registered on it)."""
    api: LanternApi = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return api
