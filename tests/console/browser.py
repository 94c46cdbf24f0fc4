"""A form-posting browser over Flask's test client, for the console's server-side tests.

It keeps the console cookie, reads the CSRF token from the last page it was shown (as a
browser's form would carry it), and signs in through the real pages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.auth.factories_staff import Staff, code

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
COOKIE = "__Host-lantern"


@dataclass
class Browser:
    app: Flask
    client: FlaskClient = field(init=False)
    last: TestResponse | None = None
    address: str = "10.20.0.1"

    def __post_init__(self) -> None:
        self.client = self.app.test_client()

    @property
    def csrf(self) -> str:
        assert self.last is not None, "no page seen yet"
        found = _TOKEN.search(self.last.get_data(as_text=True))
        assert found is not None, "the last page has no form"
        return found.group(1)

    def _env(self) -> dict[str, Any]:
        return {"REMOTE_ADDR": self.address}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        response = self.client.get(path, environ_base=self._env(), **kwargs)
        if response.mimetype == "text/html" and response.status_code < 300:
            self.last = response
        return response

    def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: str | None = "auto", **kw: Any
    ) -> TestResponse:
        form = dict(data or {})
        if csrf == "auto":
            form["csrf_token"] = self.csrf
        elif csrf is not None:
            form["csrf_token"] = csrf
        response = self.client.post(path, data=form, environ_base=self._env(), **kw)
        if response.mimetype == "text/html" and response.status_code < 300:
            self.last = response
        return response

    def cookie(self) -> str | None:
        found = self.client.get_cookie(COOKIE)
        return found.value if found is not None else None

    def sign_in(self, staff: Staff, when: dt.datetime) -> TestResponse:
        """Password, then a code: answers the page the second step sent the browser to."""
        assert staff.seed is not None
        self.get("/console/sign-in")
        first = self.post("/console/sign-in", {"email": staff.email, "password": staff.password})
        assert first.status_code == 303, first.get_data(as_text=True)
        self.get(first.headers["Location"])
        second = self.post("/console/sign-in/code", {"code": code(staff.seed, when)})
        assert second.status_code == 303, second.get_data(as_text=True)
        return self.get(second.headers["Location"], follow_redirects=True)
