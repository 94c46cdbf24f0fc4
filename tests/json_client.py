"""The tests' HTTP client: Flask's test client whose responses type their JSON body as ``Any``.

Werkzeug types ``TestResponse.json`` as ``Any | None`` (``None`` when the body is not JSON), so
strict mypy refuses every ``r.json["id"]``. Lantern's API answers JSON (problem+json on errors),
and a test that reads ``r.json`` means that it expects JSON: here that property fails at once,
naming the request and what came back, instead of handing ``None`` to the next line.
"""

from __future__ import annotations

from typing import Any, Self

from flask import Flask
from flask import Response as FlaskResponse
from flask.testing import FlaskClient
from werkzeug.test import TestResponse


class JsonResponse(TestResponse, FlaskResponse):
    """What the test client returns: the class Werkzeug would build for Flask's own response class
    (``TestResponse`` first), with a JSON body typed ``Any``."""

    __test__ = False
    # TestResponse's own choice (no mimetype is assumed for a body that names none), restated so
    # mypy can reconcile it with Flask's Response, whose declaration would otherwise clash.
    default_mimetype: None = None

    @property
    def json(self) -> Any:
        """The body parsed as JSON; an AssertionError when the response does not say it is JSON."""
        if not self.is_json:
            body = self.get_data(as_text=True)
            raise AssertionError(
                f"{self.request.method} {self.request.path} answered {self.status} "
                f"{self.content_type!r}, not JSON: {body[:500]!r}"
            )
        return self.get_json()


class JsonClient(FlaskClient):
    """``FlaskClient`` whose requests return ``JsonResponse``; ``JsonClient(app)`` stands for
    ``app.test_client()``, which mypy sees as a plain ``FlaskClient``."""

    def __init__(self, app: Flask) -> None:
        # ``JsonResponse`` is what Werkzeug builds around Flask's own Response class; an app with a
        # response class of its own would lose it here, so that is refused rather than hidden.
        if app.response_class is not FlaskResponse:
            raise TypeError(f"JsonClient serves Flask's own Response, not {app.response_class!r}")
        super().__init__(app, JsonResponse)

    def open(self, *args: Any, **kwargs: Any) -> JsonResponse:
        response = super().open(*args, **kwargs)
        assert isinstance(response, JsonResponse)
        return response

    def get(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "GET"
        return self.open(*args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "POST"
        return self.open(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "PUT"
        return self.open(*args, **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "PATCH"
        return self.open(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "DELETE"
        return self.open(*args, **kwargs)

    def options(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "OPTIONS"
        return self.open(*args, **kwargs)

    def head(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "HEAD"
        return self.open(*args, **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> JsonResponse:
        kwargs["method"] = "TRACE"
        return self.open(*args, **kwargs)

    def __enter__(self) -> Self:
        super().__enter__()
        return self
