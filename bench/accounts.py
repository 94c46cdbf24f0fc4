"""Setting up the benchmarks' people through the API, as the console and the app would."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.load import load
from tests.e2e.client import Agency, Api, StaffAccount, SurvivorAccount, enrol_texting_survivor


def refresh(s: SurvivorAccount) -> None:
    """A new access token from the rotating refresh token (access tokens live 15 minutes)."""
    tokens = Api(s.api.base).post(
        "/v1/survivor/token/refresh", {"refresh_token": s.refresh_token}, expect=200
    )
    s.api.token, s.refresh_token = tokens["access_token"], tokens["refresh_token"]


def consent(s: SurvivorAccount, agency: Agency, kinds: list[str]) -> None:
    terms = s.api.post(
        "/v1/survivor/consents/preview",
        {"agency_id": agency.id, "kinds": kinds, "purpose": "Keep me safe"},
        expect=200,
    )
    s.api.post(
        "/v1/survivor/consents",
        {k: terms[k] for k in ("agency_id", "kinds", "purpose", "expires_at", "text_hash")},
        expect=201,
    )


def survivors(advocate: StaffAccount, n: int, phone_base: int, grace: int) -> list[SurvivorAccount]:
    lock = threading.Lock()

    def one(i: int) -> SurvivorAccount:
        return enrol_texting_survivor(
            advocate, f"{730000 + i:06d}", f"+44791{phone_base + i:07d}", grace, lock
        )

    # Enrolment hashes a PIN with argon2: a few at a time, as a real advocate team would.
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(n)))


def schedule_checkins(
    group: list[SurvivorAccount], total: int, due: dt.datetime, channel: str, concurrency: int
) -> tuple[float, int, str]:
    """``total`` one-off check-ins all due at ``due``, round-robin over ``group``.

    Returns (seconds taken, how many were created, the statuses of those refused)."""
    for s in group:
        refresh(s)
    body = {"kind": "one_off", "channel": channel, "due_at": due.isoformat(), "template": "gym"}
    refused: Counter[str] = Counter()

    def make(h: requests.Session, i: int) -> int:
        s = group[i % len(group)]
        try:
            r = h.post(
                s.api.base + "/v1/survivor/check-ins", json=body,
                headers={"Authorization": f"Bearer {s.api.token}"}, timeout=60,
            )  # fmt: skip
        except requests.RequestException as exc:
            refused[type(exc).__name__] += 1
            raise
        if r.status_code != 201:
            refused[f"{r.status_code} {r.text[:120]}"] += 1
        return r.status_code

    fig = load("create check-ins", group[0].api.base, make, total, concurrency)
    return fig.seconds, fig.count - fig.errors, str(dict(refused))
