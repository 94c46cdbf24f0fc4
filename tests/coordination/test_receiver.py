"""A reference receiver built on ``standardwebhooks``, served over real HTTP on 127.0.0.1
(allowlisted), receiving from the real urllib3 sender driven by the worker and a frozen clock."""

from __future__ import annotations

import datetime as dt
import itertools
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from coordination import deliveries
from coordination.models import AgencyWebhook, Delivery
from coordination.webhooks_http import HttpWebhookSender
from tests.coordination.conftest import World


@dataclass
class Receiver:
    """Verifies every request; answers ``down_status`` for each id's first ``down_for`` tries."""

    secret: str = ""
    down_for: int = 0
    down_status: int = 503
    attempts: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    timestamps: dict[str, list[int]] = field(default_factory=dict)
    host_headers: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        try:
            Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return 400
        msg_id = headers["webhook-id"]
        with self.lock:
            self.host_headers.append(headers.get("host", ""))
            self.attempts[msg_id] += 1
            self.timestamps.setdefault(msg_id, []).append(int(headers["webhook-timestamp"]))
            if self.attempts[msg_id] <= self.down_for:
                return self.down_status
            if self.accepted[msg_id] == 0:  # a receiver drops duplicates by webhook-id
                self.accepted[msg_id] += 1
            return 200


def _serve(receiver: Receiver) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            status = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, server.server_address[1]


@pytest.fixture
def receiver(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, int]]:
    import standardwebhooks.webhooks as swh

    class _Now(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Self:
            moment = world.clock.now()
            return cls.combine(moment.date(), moment.timetz())

    # The receiver's clock is the simulated clock, so its 5-minute tolerance is meaningful.
    monkeypatch.setattr(swh, "datetime", _Now)
    rec = Receiver()
    server, port = _serve(rec)
    world.deps.settings = world.runtime.settings.replace(
        webhook_allowlist=f"127.0.0.1:{port}", webhook_timeout_seconds=5.0
    )
    world.deps.sender = HttpWebhookSender()
    world.deps.resolver = socket.getaddrinfo
    yield rec, port
    server.shutdown()
    server.server_close()


def _alerts(world: World, n: int) -> list[Delivery]:
    out = []
    for _ in range(n):
        out += world.alert("welfare_check")[1]
    return out


def test_receiver_down_for_five_attempts_gets_each_alert_exactly_once(
    world: World, receiver: tuple[Receiver, int]
) -> None:
    rec, port = receiver
    rec.secret = world.webhook(world.police, f"http://127.0.0.1:{port}/hooks/lantern")
    rec.down_for = 5
    world.consent(world.police, ["welfare_check"], days=300)
    sent = _alerts(world, 3)
    worker = world.worker()
    worker.run_once()  # attempt 1, immediately
    for delay in deliveries.SCHEDULE[:6]:
        world.clock.advance(seconds=delay * 1.1 + 1)
        worker.run_once()
    # Long after: nothing more is sent.
    world.clock.advance(days=3)
    worker.run_once()
    ids = {d.webhook_id for d in sent}
    assert rec.bad_signatures == 0
    assert set(rec.accepted) == ids
    assert all(v == 1 for v in rec.accepted.values())
    assert all(rec.attempts[i] == 6 for i in ids)
    assert set(rec.host_headers) == {f"127.0.0.1:{port}"}
    # The gaps between attempts follow the schedule (with at most 10% jitter).
    for msg_id in ids:
        stamps = rec.timestamps[msg_id]
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        for gap, base in zip(gaps, deliveries.SCHEDULE, strict=False):
            assert base <= gap <= base * 1.1 + 2, (gaps, msg_id)
    world.session.expire_all()
    states = {world.session.get_one(Delivery, d.id).state for d in sent}
    assert states == {"delivered"}


def test_receiver_answering_410_disables_the_endpoint(
    world: World, receiver: tuple[Receiver, int]
) -> None:
    rec, port = receiver
    rec.secret = world.webhook(world.police, f"http://127.0.0.1:{port}/gone")
    rec.down_for = 100
    rec.down_status = 410
    world.consent(world.police, ["welfare_check"])
    _alerts(world, 2)
    worker = world.worker()
    worker.run_once()
    world.clock.advance(days=2)
    worker.run_once()
    world.session.expire_all()
    hook = world.session.get(AgencyWebhook, world.police.id)
    assert hook is not None
    assert hook.disabled_at is not None
    # The first 410 disabled the endpoint; the second delivery was never sent.
    assert sum(rec.attempts.values()) == 1
    assert rec.bad_signatures == 0


def test_loopback_without_the_allowlist_is_never_contacted(
    world: World, receiver: tuple[Receiver, int]
) -> None:
    rec, port = receiver
    rec.secret = world.webhook(world.police, f"http://127.0.0.1:{port}/hooks")
    world.consent(world.police, ["welfare_check"])
    world.deps.settings = world.runtime.settings  # allowlist removed after saving
    _alerts(world, 1)
    world.worker().run_once()
    assert sum(rec.attempts.values()) == 0
