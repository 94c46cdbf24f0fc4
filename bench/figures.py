"""The figures that are not plain HTTP load: argon2's cost, the check-in burst, escalation
latency and the alert fan-out."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

import psycopg
import requests

from bench.accounts import schedule_checkins
from bench.load import Figure, load, pct
from tests.e2e.client import StaffAccount, SurvivorAccount
from tests.e2e.harness import Stack, TwilioStandIn, WebhookReceiver, wait_until


def argon2_cost(env: dict[str, str]) -> dict[str, Any]:
    from core.crypto import SecretHasher
    from core.settings import load_settings

    settings = load_settings(env)
    hasher = SecretHasher.from_settings(settings)
    digest = hasher.hash("correct horse battery staple")
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        hasher.verify(digest, "correct horse battery staple")
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "time_cost": settings.argon2_time_cost,
        "memory_kib": settings.argon2_memory_kib,
        "parallelism": settings.argon2_parallelism,
        "verify_ms_median": round(statistics.median(times), 1),
    }


def burst(
    stack: Stack, twilio: TwilioStandIn, group: list[SurvivorAccount], n: int, workers: int,
    concurrency: int, threads: int = 8,
) -> Figure:  # fmt: skip
    """``n`` check-ins all due in the same instant, as a crisis line's 9:00 round would be.

    The workers run throughout, as in production: they make each check-in's occurrence ahead
    of time, while the check-ins are being scheduled. The figure is the time from the due
    instant until the Twilio stand-in has the last text.
    """
    for w in stack.workers:
        w.stop()
    stack.workers.clear()
    for _ in range(workers):
        stack.start_worker(LANTERN_WORKER_THREADS=str(threads))
    # Due once scheduling is surely over (about 100 a second here): a due time already past
    # is refused, rightly, by the API.
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61 + n / 50)
    created, made, refused = schedule_checkins(group, n, due, "sms", concurrency)
    if refused != "{}":
        print(f"bench: {n - made} check-ins refused: {refused}", flush=True)
    before = twilio.count()
    left = (due - dt.datetime.now(dt.UTC)).total_seconds()
    due_mono = time.monotonic() + left
    wait_until("the burst's due time", lambda: dt.datetime.now(dt.UTC) >= due, left + 10, 0.2)
    early = twilio.count() - before  # must be none: nothing is sent before it is due
    deadline = due_mono + 1200
    while twilio.count() - before < made and time.monotonic() < deadline:
        time.sleep(0.2)
    sent = twilio.count() - before
    with twilio.lock:
        last = max((t for t, _ in twilio.sends[before:]), default=due_mono)
    took = last - due_mono
    return Figure(
        f"check-in burst: {n} due at once, {workers} worker(s) x {threads} threads",
        sent, took, sent / took, None, None, errors=early,
        note=f"time from the due instant until the last SMS left: {took:.1f} s (target 60 s: "
        f"{'met' if took <= 60 and sent == n else 'NOT met'}); {sent}/{n} sent"
        f"{'' if made == n else f' ({n - made} refused when scheduled: {refused})'}; "
        f"{early} sent early; scheduling took {created:.0f} s",
    )  # fmt: skip


def escalation_latency(stack: Stack, group: list[SurvivorAccount]) -> Figure:
    ids = [s.id for s in group]
    with psycopg.connect(stack.database_url.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            "select extract(epoch from (n.created_at - o.grace_ends_at)) "
            "from escalations e join checkin_occurrences o on o.id = e.occurrence_id "
            "join staff_notices n on n.details->>'escalation_id' = e.id::text "
            "where o.survivor_id::text = any(%s)",
            (ids,),
        ).fetchall()
    lat = [float(r[0]) for r in rows]
    if not lat:
        return Figure("escalation latency", 0, 0, 0, None, None, note="no escalations seen")
    return Figure(
        "escalation latency: grace end -> advocate's alert", len(lat), max(lat), 0,
        pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000,
        note="alerts written by the worker (1 s poll); p50/p99 over the escalations",
    )  # fmt: skip


def fanout(
    base: str, advocate: StaffAccount, group: list[SurvivorAccount], receiver: WebhookReceiver,
    n: int, agencies: int, concurrency: int,
) -> Figure:  # fmt: skip
    before = len(receiver.received)
    token = advocate.api.token

    def alert(h: requests.Session, i: int) -> int:
        s = group[i % len(group)]
        return h.post(
            f"{base}/v1/staff/survivors/{s.id}/alerts", json={"kind": "safety_status",
            "status": "safe"}, headers={"Authorization": f"Bearer {token}"}, timeout=60,
        ).status_code  # fmt: skip

    started = time.monotonic()
    made = load("create alerts", base, alert, n, concurrency)
    expected = n * agencies
    wait_until("every delivery", lambda: len(receiver.received) - before >= expected, 1800, 0.5)
    with receiver.lock:
        got = receiver.received[before:]
    first, last = min(r.at for r in got), max(r.at for r in got)
    now_wall, now_mono = time.time(), time.monotonic()
    lat = []
    for r in got:
        raised = dt.datetime.fromisoformat(r.payload["data"]["raised_at"]).timestamp()
        lat.append(now_wall - (now_mono - r.at) - raised)
    ids = [r.webhook_id for r in got]
    return Figure(
        f"alert fan-out: {n} alerts x {agencies} agencies", len(got), last - first,
        len(got) / (last - first), pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000,
        errors=made.errors + receiver.rejected,
        note=f"deliveries/s between first and last receipt; latency = receipt - alert raised; "
        f"alerts created at {made.per_second:.0f}/s over HTTP; {len(set(ids))} distinct "
        f"webhook-ids; {time.monotonic() - started:.0f} s in all",
    )  # fmt: skip
