"""Five identical inbound SMS posted at the same moment on real connections: one effect.

Twilio retries a webhook it thinks failed, and retries can overlap. Each post runs in its own
thread and transaction against a committed database; the unique MessageSid decides, on
SQLite (one writer at a time) and on PostgreSQL (the unique index makes the losers wait, then
fail into their savepoint).
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from api.app import create_app
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.runtime import build_runtime
from messaging.models import ConversationMessage, InboundSms
from messaging.phone import set_phone
from messaging.sms.webhooks import EMPTY_TWIML
from tests.conftest import make_settings
from tests.factories import make_survivor
from tests.json_client import JsonClient
from tests.messaging.conftest import AUTH_TOKEN, PUBLIC_URL, post_signed

PHONE = "+14155550166"


def test_concurrent_duplicate_posts_have_one_effect(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> None:
    engine = make_engine(committed_db)
    settings = make_settings(
        tmp_path, committed_db, keyring, twilio_auth_token=AUTH_TOKEN, public_base_url=PUBLIC_URL
    )
    runtime = build_runtime(
        settings, clock=FrozenClock(), engine=engine, keyring=keyring, hasher=fast_hasher
    )
    try:
        app = create_app(settings, runtime=runtime)
        with runtime.session_factory() as s:
            survivor, _ = make_survivor(s, runtime)
            set_phone(s, runtime.vault, survivor.id, PHONE)
            s.commit()
        params = {"MessageSid": "SM" + "9" * 32, "From": PHONE, "Body": "at the same time"}
        barrier = threading.Barrier(5)
        answers: list[tuple[int, str]] = []
        lock = threading.Lock()

        def post() -> None:
            client = JsonClient(app)
            barrier.wait(10)
            r = post_signed(client, "/v1/sms/inbound", params)
            with lock:
                answers.append((r.status_code, r.get_data(as_text=True)))

        threads = [threading.Thread(target=post) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert answers == [(200, EMPTY_TWIML)] * 5
        with runtime.session_factory() as s:
            assert s.scalar(select(func.count()).select_from(InboundSms)) == 1
            assert s.scalar(select(func.count()).select_from(ConversationMessage)) == 1
    finally:
        engine.dispose()
