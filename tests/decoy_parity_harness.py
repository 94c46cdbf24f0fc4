"""The harness of ``tests/test_decoy_parity.py``: a phone that records what it is answered,
and a normaliser that makes two runs' answers comparable.

A ``Phone`` is the person holding the phone, as the server sees them: an account handle, the
PIN they believe opens it, a bearer token. Every request goes through it and is recorded (the
route it reached, the status, the headers the app reads, the body); ids, tokens and hashes are
replaced by placeholders numbered in order of first appearance, so that two runs that behave
alike give equal transcripts even though their rows have different ids. The texts the phone
receives are recorded beside them (``record_texts``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.datastructures import Headers

from core.clock import FrozenClock
from messaging.sms.gateway import SentSms
from safety_plans.bundle import verify
from tests.json_client import JsonClient, JsonResponse

LOGIN = "/v1/survivor/login"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")  # an id in its short form (file names)
_TOKEN = re.compile(r"\bs[ar]_[A-Za-z0-9_\-]+")
_HASH = re.compile(r"\b[0-9a-f]{64}\b")
#: Keys whose values are opaque per request or per run, whatever their shape.
_OPAQUE_KEYS = frozenset({"request_id", "next_cursor", "signature"})
#: Response headers the app reads (the rest are the same security headers on every answer).
_HEADERS = ("ETag", "Location", "Retry-After", "Content-Disposition", "WWW-Authenticate")


class Normaliser:
    """Replaces ids, tokens and hashes by placeholders, consistently within one run."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}
        self._counts: Counter[str] = Counter()

    def name(self, kind: str, value: str) -> str:
        key = (kind, value.lower())
        if key not in self._names:
            self._counts[kind] += 1
            self._names[key] = f"<{kind}{self._counts[kind]}>"
        return self._names[key]

    def text(self, value: str) -> str:
        value = _TOKEN.sub(lambda m: self.name("token", m.group()), value)
        value = _UUID.sub(lambda m: self.name("id", m.group()), value)
        value = _HEX_ID.sub(lambda m: self.name("id", str(uuid.UUID(m.group()))), value)
        return _HASH.sub(lambda m: self.name("hash", m.group()), value)

    def value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            return {self.text(k): self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.name(key, value) if key in _OPAQUE_KEYS else self.text(value)
        return value


def _zip_summary(norm: Normaliser, data: bytes) -> dict[str, Any]:
    """A journal export as its members: JSON members normalised, others by digest."""
    out: dict[str, Any] = {"verifies": verify(io.BytesIO(data)).chain_ok}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            raw = zf.read(name)
            member = norm.text(name)
            if name.endswith(".json"):
                out[member] = norm.value(json.loads(raw))
            else:
                out[member] = f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:16]}"
    return out


@dataclass(frozen=True)
class Answer:
    """One answer, normalised: what the person at the phone can tell from it."""

    step: str
    status: int
    content_type: str | None
    headers: tuple[tuple[str, str], ...]
    body: Any

    def line(self) -> str:
        head = ", ".join(f"{k}: {v}" for k, v in self.headers)
        return f"{self.step} -> {self.status} {self.content_type} [{head}] {self.body!r}"


def capture(norm: Normaliser, step: str, r: JsonResponse) -> Answer:
    headers = tuple((h, norm.text(r.headers[h])) for h in _HEADERS if h in r.headers)
    body: Any
    if not r.data:
        body = None
    elif r.mimetype == "application/zip":
        body = _zip_summary(norm, r.data)
    elif r.is_json:
        body = norm.value(r.get_json())
    else:
        body = f"{len(r.data)} bytes, sha256 {hashlib.sha256(r.data).hexdigest()[:16]}"
    return Answer(step, r.status_code, r.mimetype or None, headers, body)


@dataclass(frozen=True)
class Reply:
    """What the app got back, for a script's next step (JSON is ``None`` when not JSON)."""

    status_code: int
    json: Any
    headers: Headers
    data: bytes


@dataclass
class Phone:
    """The person at the phone: who they log in as, the PIN they believe is theirs, a session.

    ``pin`` and ``duress_pin`` follow what the scripts change, as the person would remember.
    """

    kind: str  # "real" or "decoy": for messages only, never read by a script
    app: Flask
    client: JsonClient
    clock: FrozenClock
    run_jobs: Callable[[], int]
    handle: str
    pin: str
    duress_pin: str | None
    phone_number: str
    token: str
    answers: list[Answer] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    routes: set[str] = field(default_factory=set)
    norm: Normaliser = field(default_factory=Normaliser)
    texts: list[str] = field(default_factory=list)

    def route_of(self, method: str, path: str) -> str:
        adapter = self.app.url_map.bind("lantern.test")
        rule, _args = adapter.match(path.split("?", 1)[0], method=method, return_rule=True)
        return f"{method} {rule.rule}"

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
        anonymous: bool = False,
        headers: dict[str, str] | None = None,
        data: Any = None,
        note: str = "",
    ) -> Reply:
        route = self.route_of(method, path)
        self.routes.add(route)
        # A person takes a moment between two taps; no two rows share an instant, so lists
        # ordered by time read the same in both runs (ties would fall to random ids).
        self.clock.advance(seconds=1)
        sent = {} if anonymous else {"Authorization": f"Bearer {token or self.token}"}
        sent |= headers or {}
        kwargs: dict[str, Any] = {"headers": sent}
        if data is not None:
            kwargs |= {"data": data, "content_type": "multipart/form-data"}
        elif json is not None or method in ("POST", "PUT", "PATCH"):
            kwargs["json"] = json
        r = self.client.open(path, method=method, **kwargs)
        step = f"{len(self.answers):03d} {route}{' (' + note + ')' if note else ''}"
        self.answers.append(capture(self.norm, step, r))
        self.raw.append(r.data)
        return Reply(r.status_code, r.json if r.is_json and r.data else None, r.headers, r.data)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Reply:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Reply:
        return self.call("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Reply:
        return self.call("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.call("DELETE", path, **kw)

    def login(self, pin: str, *, label: str | None = None, note: str = "") -> Reply:
        """Log in from the app, as the person would: the account handle and a PIN."""
        body = {"account_handle": self.handle, "pin": pin, "device_label": label}
        return self.post(LOGIN, json=body, anonymous=True, note=note)

    def travel(self, **delta: float) -> None:
        """Let time pass and the worker catch up (timers, sends, alerts)."""
        self.clock.advance(**delta)
        self.run_jobs()

    def lines(self) -> list[str]:
        return [a.line() for a in self.answers]

    def record_texts(self, sent: Iterable[SentSms]) -> None:
        """What the SMS gateway handed over while this phone ran, numbers normalised: the two
        runs use different numbers, and what reaches each run's phone must read the same."""
        for sms in sent:
            to = "this phone" if sms.to == self.phone_number else "another number"
            self.texts.append(f"to {to}: {self.norm.text(sms.body)!r}")


def token_of(r: Reply) -> str:
    """The access token of a login that must have succeeded."""
    assert r.status_code == 200, r.data
    token = r.json["access_token"]
    assert isinstance(token, str)
    return token
