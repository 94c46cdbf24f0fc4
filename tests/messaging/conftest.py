"""Messaging fixtures: a fake Twilio HTTP client, signed webhook posts, a worker to run jobs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from sqlalchemy.orm import Session
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from api.registry import job_registry
from api.wiring import wire
from core.jobs import JobRegistry
from core.runtime import Runtime
from core.worker import Worker
from messaging.sms.gateway import TwilioSmsGateway
from tests.conftest import shared_app
from tests.json_client import JsonClient

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
PUBLIC_URL = "https://lantern.test"


@dataclass
class FakeRequest:
    method: str
    url: str
    data: dict[str, Any]
    auth: tuple[str, str] | None


@dataclass
class FakeTwilioHttp(HttpClient):
    """The official client's HTTP seam: answers from a script, records every request.

    Each scripted step is (status, json body) or an exception instance to raise (timeouts).
    With the script empty it answers a fresh successful message.
    """

    script: list[tuple[int, dict[str, Any]] | Exception] = field(default_factory=list)
    requests: list[FakeRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        import logging

        super().__init__(logging.getLogger("fake-twilio"), False, None)

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        self.requests.append(FakeRequest(method, uri, dict(data or {}), auth))
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        if step is None:
            sid = "SM" + uuid.uuid4().hex
            step = (201, {"sid": sid, "status": "queued", "account_sid": ACCOUNT_SID})
        status, body = step
        return TwilioResponse(status, json.dumps(body), {})


def twilio_error(status: int, code: int) -> tuple[int, dict[str, Any]]:
    return (status, {"code": code, "message": "refused", "more_info": "", "status": status})


def timeout_error() -> Exception:
    return requests.exceptions.ReadTimeout("timed out")


@pytest.fixture
def fake_http() -> FakeTwilioHttp:
    return FakeTwilioHttp()


@pytest.fixture
def sms_settings(runtime: Runtime) -> Runtime:
    """The runtime with Twilio webhook settings (the signature needs the auth token)."""
    runtime.settings = runtime.settings.replace(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_messaging_service_sid=SERVICE_SID,
        public_base_url=PUBLIC_URL,
    )
    return runtime


@pytest.fixture
def twilio_app(sms_settings: Runtime, fake_http: FakeTwilioHttp) -> Flask:
    """An app whose SMS gateway is the Twilio one over the fake HTTP client."""
    wire(
        sms_settings,
        sms_gateway=TwilioSmsGateway(
            ACCOUNT_SID, AUTH_TOKEN, messaging_service_sid=SERVICE_SID, http_client=fake_http
        ),
    )
    return shared_app(sms_settings)


@pytest.fixture
def console_app(sms_settings: Runtime) -> Flask:
    """An app with the console gateway (the default backend)."""
    return shared_app(sms_settings)


RunJobs = Callable[[], int]


def make_job_runner(runtime: Runtime, registry: JobRegistry | None = None) -> RunJobs:
    workers: list[Worker] = []

    def run() -> int:
        # The worker is built at the first run, not with the fixture: a test may still choose
        # its gateway (or settings) before anything wires the runtime.
        if not workers:
            workers.append(
                Worker(runtime.session_factory, registry or job_registry(runtime), runtime.clock)
            )
        total = 0
        while (n := workers[0].run_once()) and total < 500:
            total += n
        return total

    return run


@pytest.fixture
def run_jobs(runtime: Runtime) -> RunJobs:
    """Run every due job (the clock decides what is due); returns how many were attempted."""
    return make_job_runner(runtime)


def sign(params: dict[str, str], path: str, token: str = AUTH_TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    return signature  # Twilio's library is untyped: its signature is a base64 str


def post_signed(
    client: JsonClient,
    path: str,
    params: dict[str, str],
    *,
    signature: str | None = None,
) -> Any:
    sig = sign(params, path) if signature is None else signature
    return client.post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sig},
    )


def commit(session: Session) -> None:
    """Make factory rows visible to the app's sessions (savepoint release, still rolled back)."""
    session.commit()


@pytest.fixture(scope="session")
def prism_url() -> Iterator[str]:
    """Base URL of a Prism mock of Twilio's contract (started once per test session)."""
    from tests.messaging.prism import run_prism

    yield from run_prism()
