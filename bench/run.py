"""``make bench``: whole-flow benchmarks on loopback against gunicorn + PostgreSQL.

Every figure is measured in the same run as its reference (``GET /healthz`` of the same app on
the same server, measured just before it) and reported as a ratio as well as absolute req/s,
p50 and p99. Prints one table and writes the same figures as JSON under ``bench/results/``.

    .venv/bin/python -m bench.run                 # the full run (about 20 minutes)
    .venv/bin/python -m bench.run --scale 0.05    # a smoke run: 500 check-ins, 500 alerts

The processes are real (``tests/e2e/harness.py``): a fresh database on the local PostgreSQL,
gunicorn (2 processes x 4 threads), ``lantern worker`` processes at the default settings
(8 threads each, 1 s poll), a Twilio stand-in answering after 200 ms, and three Standard
Webhooks receivers (one per agency) verifying every delivery. Argon2 runs at the production
defaults (t=3, 64 MiB); its own cost is measured and printed separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
import requests

from tests.e2e.client import (
    Agency,
    Api,
    StaffAccount,
    SurvivorAccount,
    bootstrap_admin,
    enrol_survivor,
    invite_staff,
    login_staff,
    plan_body,
    register_agency,
)
from tests.e2e.harness import (
    ROOT,
    Stack,
    TwilioStandIn,
    WebhookReceiver,
    build_stack,
    make_workdir,
    wait_until,
)

RESULTS = ROOT / "bench" / "results"
APP_PROCESSES, APP_THREADS = 2, 4


@dataclass
class Figure:
    name: str
    count: int
    seconds: float
    per_second: float
    p50_ms: float | None
    p99_ms: float | None
    reference_per_second: float | None = None
    ratio: float | None = None
    errors: int = 0
    note: str = ""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- HTTP load ------------------------------------------------------------------------------------

Request = Callable[[requests.Session, int], int]  # (session, i) -> status code


def load(name: str, base: str, request: Request, total: int, concurrency: int) -> Figure:
    """``total`` requests from ``concurrency`` keep-alive clients; any non-2xx counts as error."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        nonlocal errors
        http = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            t0 = time.perf_counter()
            try:
                status = request(http, i)
            except requests.RequestException:
                status = 599
            took = time.perf_counter() - t0
            with lock:
                latencies.append(took)
                if not 200 <= status < 300:
                    errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for f in [pool.submit(client) for _ in range(concurrency)]:
            f.result()
    wall = time.perf_counter() - started
    return Figure(
        name, len(latencies), wall, len(latencies) / wall,
        pct(latencies, 0.5) * 1000, pct(latencies, 0.99) * 1000, errors=errors,
    )  # fmt: skip


def with_reference(base: str, fig_of: Callable[[], Figure], n: int, c: int) -> list[Figure]:
    """The trivial endpoint measured right before the figure; the figure gets the ratio."""
    ref = load(
        "reference: GET /healthz", base,
        lambda h, i: h.get(base + "/healthz", timeout=30).status_code, n, c,
    )  # fmt: skip
    fig = fig_of()
    fig.reference_per_second = ref.per_second
    fig.ratio = fig.per_second / ref.per_second
    return [ref, fig]


# --- setup through the API ------------------------------------------------------------------------


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
        # One enrolment at a time: the new id is read as the one the caseload gained.
        with lock:
            s = enrol_survivor(advocate, f"{730000 + i:06d}")
        s.api.put("/v1/survivor/phone", {"phone": f"+44791{phone_base + i:07d}"}, expect=204)
        s.api.put(
            "/v1/survivor/check-ins/settings",
            {"grace_minutes": grace, "second_window_minutes": 240, "safe_reply": "1",
             "help_reply": "2"},
            expect=200,
        )  # fmt: skip
        return s

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


# --- the run --------------------------------------------------------------------------------------


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
    """``n`` check-ins all due at once, workers stopped; then start them and time the sends."""
    for w in stack.workers:
        w.stop()
    stack.workers.clear()
    # Due once scheduling is surely over (about 100 a second here): a due time already past
    # is refused, rightly, by the API.
    due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61 + n / 50)
    created, made, refused = schedule_checkins(group, n, due, "sms", concurrency)
    if refused != "{}":
        print(f"bench: {n - made} check-ins refused: {refused}", flush=True)
    # Every check-in is due before any worker runs: a burst of n in the same minute.
    wait_until("the burst's due time", lambda: dt.datetime.now(dt.UTC) >= due, 120, 0.2)
    before = twilio.count()
    started = time.monotonic()
    for _ in range(workers):
        stack.start_worker(LANTERN_WORKER_THREADS=str(threads))
    deadline = started + 1200
    while twilio.count() - before < made and time.monotonic() < deadline:
        time.sleep(0.2)
    sent = twilio.count() - before
    with twilio.lock:
        last = max((t for t, _ in twilio.sends[before:]), default=started)
    took = last - started
    return Figure(
        f"check-in burst: {n} due at once, {workers} worker(s) x {threads} threads",
        sent, took, sent / took, None, None,
        note=f"time from worker start until the last SMS left: {took:.1f} s (target 60 s: "
        f"{'met' if took <= 60 and sent == n else 'NOT met'}); {sent}/{n} sent"
        f"{'' if made == n else f' ({n - made} refused when scheduled: {refused})'}; "
        f"scheduling took {created:.0f} s",
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply the burst and alert counts")
    p.add_argument("--requests", type=int, default=1500, help="requests per HTTP figure")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--logins", type=int, default=24)
    p.add_argument(
        "--extra-burst-threads", type=int, default=20,
        help="also run the burst with 2 workers of this many threads (0: skip)",
    )  # fmt: skip
    args = p.parse_args(argv)
    n_burst, n_alerts = int(10_000 * args.scale), int(10_000 * args.scale)
    n, c = args.requests, args.concurrency

    workdir = make_workdir("lantern-bench-")
    receiver = WebhookReceiver()
    receiver_base = receiver.start()
    twilio = TwilioStandIn(delay=0.2)
    twilio_url = twilio.start()
    stack, drop = build_stack(
        workdir, twilio_url=twilio_url, extra={"LANTERN_JOB_POLL_SECONDS": "1.0"}
    )
    figures: list[Figure] = []
    t_start = time.monotonic()
    failed = True
    try:
        stack.start_app(APP_PROCESSES, APP_THREADS)
        base = stack.base
        print(f"bench: app at {base}, database {stack.database_url.rsplit('/', 1)[1]}")
        admin = bootstrap_admin(stack)
        advocate = invite_staff(admin, "advocate@bench.test")
        agencies = [
            register_agency(admin, name, kind, receiver_base, f"/{kind}")
            for name, kind in (("Police", "police"), ("Probation", "probation"),
                               ("Refuge", "refuge"))
        ]  # fmt: skip
        for a in agencies:
            receiver.secrets[a.webhook_path] = a.webhook_secret
        print("bench: staff and agencies ready; enrolling survivors")
        http_group = survivors(advocate, 8, 0, 240)
        for s in http_group:
            for a in agencies:
                consent(s, a, ["safety_status"])
        esc_group = survivors(advocate, 20, 1000, 5)
        burst_group = survivors(advocate, 50, 2000, 240)
        logins = [invite_staff(admin, f"login{i}@bench.test") for i in range(args.logins)]
        print(f"bench: setup done in {time.monotonic() - t_start:.0f} s")

        # Escalation timers first: they end 6 minutes from now, while the rest runs.
        esc_due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
        schedule_checkins(esc_group, 10 * len(esc_group), esc_due, "app", c)
        esc_grace_end = esc_due + dt.timedelta(minutes=5)
        stack.start_worker()

        # HTTP figures, each right after its reference.
        def plan_read() -> Figure:
            return load(
                "survivor reads their plan", base,
                lambda h, i: h.get(
                    base + "/v1/survivor/safety-plan", timeout=30,
                    headers={"Authorization": f"Bearer {http_group[i % 8].api.token}"},
                ).status_code, n, c,
            )  # fmt: skip

        etags: dict[int, str] = {}
        etag_lock = threading.Lock()

        def plan_save() -> Figure:
            for k, s in enumerate(http_group):
                etags[k] = s.api.call("GET", "/v1/survivor/safety-plan").headers["ETag"]

            mine = threading.local()
            next_k = iter(range(8))

            def put(h: requests.Session, i: int) -> int:
                # Each of the 8 clients edits its own survivor's plan with the ETag it last
                # got back, as one app would; no client races another on the same plan.
                if not hasattr(mine, "k"):
                    with etag_lock:
                        mine.k = next(next_k)
                k = mine.k
                r = h.put(
                    base + "/v1/survivor/safety-plan", json=plan_body(f"version {i}"),
                    timeout=30, headers={"Authorization": f"Bearer {http_group[k].api.token}",
                                         "If-Match": etags[k]},
                )  # fmt: skip
                if r.status_code == 200:
                    etags[k] = r.headers["ETag"]
                return r.status_code

            return load("survivor saves a plan version", base, put, n // 2, 8)

        def send_message() -> Figure:
            token = advocate.api.token
            return load(
                "advocate sends a message", base,
                lambda h, i: h.post(
                    f"{base}/v1/staff/survivors/{http_group[i % 8].id}/messages",
                    json={"body": f"Checking in, message {i}"}, timeout=30,
                    headers={"Authorization": f"Bearer {token}"},
                ).status_code, n // 2, c,
            )  # fmt: skip

        for fig_of in (plan_read, plan_save, send_message):
            figures += with_reference(base, fig_of, n, c)
            print(f"bench: {figures[-1].name}: {figures[-1].per_second:.0f}/s", flush=True)
        report(figures, args, time.monotonic() - t_start, quiet=True)

        # Staff login: each account once (a TOTP step is never accepted twice).
        step = max(a.last_step for a in logins)
        wait_until("a fresh TOTP step", lambda: int(time.time()) // 30 > step, 40, 0.2)

        def login(h: requests.Session, i: int) -> int:
            login_staff(logins[i])
            return 200

        figures += with_reference(
            base, lambda: load("staff login (password + TOTP)", base, login, len(logins), 4), n, c
        )
        cost = argon2_cost(stack.env)
        figures[-1].note = (
            f"argon2id t={cost['time_cost']}, m={cost['memory_kib']} KiB, "
            f"p={cost['parallelism']}: {cost['verify_ms_median']} ms per verify, measured "
            "alone in this process; each login verifies one password"
        )

        # Alert fan-out with two workers; the escalation timers end while it runs.
        def fan() -> Figure:
            advocate.api.post("/v1/staff/step-up", {"code": advocate.fresh_code()}, expect=200)
            stack.start_worker()
            return fanout(base, advocate, http_group, receiver, n_alerts, 3, 16)

        phase(figures, "alert fan-out", fan)

        def escalations() -> Figure:
            wait_until(
                "the escalation grace periods",
                lambda: dt.datetime.now(dt.UTC) > esc_grace_end + dt.timedelta(seconds=20),
                600, 1,
            )  # fmt: skip
            wait_until(
                "every escalation",
                lambda: escalation_latency(stack, esc_group).count >= 10 * len(esc_group),
                300, 1,
            )  # fmt: skip
            return escalation_latency(stack, esc_group)

        phase(figures, "escalation latency", escalations)

        bursts = [(2, 8), (1, 8)]
        if args.extra_burst_threads:
            # Not the default: what more threads per worker would buy (jobs wait on Twilio).
            bursts.append((2, args.extra_burst_threads))
        for workers, threads in bursts:

            def one_burst(w: int = workers, t: int = threads) -> Figure:
                return burst(stack, twilio, burst_group, n_burst, w, 16, t)

            phase(figures, f"burst {workers}x{threads}", one_burst)
            report(figures, args, time.monotonic() - t_start, quiet=True)
        failed = False
    finally:
        stack.stop()
        drop()
        receiver.stop()
        twilio.stop()
        if failed:
            print(f"bench: logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report(figures, args, time.monotonic() - t_start)
    return 0


def phase(figures: list[Figure], name: str, run: Callable[[], Figure]) -> None:
    """One figure; a failure is reported as such, and the run goes on to the next."""
    try:
        figures.append(run())
    except Exception as exc:  # noqa: BLE001 - a failed phase is a figure too; go on
        figures.append(Figure(name, 0, 0, 0, None, None, errors=1, note=f"FAILED: {exc}"))
    print(f"bench: {figures[-1].name}: {figures[-1].note or figures[-1].per_second}", flush=True)


def report(
    figures: list[Figure], args: argparse.Namespace, total: float, quiet: bool = False
) -> None:
    head = (
        f"{'figure':58} {'count':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'ref/s':>7} {'ratio':>6}"
    )
    lines = ["", head, "-" * len(head)]
    for f in figures:

        def num(v: float | None, fmt: str) -> str:
            return "-" if v is None else format(v, fmt)

        lines.append(
            f"{f.name[:58]:58} {f.count:>6} {num(f.per_second or None, '8.1f'):>8} "
            f"{num(f.p50_ms, '8.1f'):>8} {num(f.p99_ms, '8.1f'):>8} "
            f"{num(f.reference_per_second, '7.0f'):>7} {num(f.ratio, '6.3f'):>6}"
            + (f"  errors={f.errors}" if f.errors else "")
        )
        if f.note:
            lines.append(f"    {f.note}")
    if not quiet:
        print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    suffix = "" if args.scale == 1.0 else f"-scale{args.scale:g}"
    out = RESULTS / f"{stamp}{suffix}.json"
    out.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()},
                "setup": {"gunicorn": f"{APP_PROCESSES} processes x {APP_THREADS} threads",
                          "worker_threads": 8, "job_poll_seconds": 1.0,
                          "twilio_delay_ms": 200, "concurrency": args.concurrency,
                          "scale": args.scale},
                "total_seconds": round(total),
                "figures": [asdict(f) for f in figures],
            },
            indent=2,
        )
        + "\n"
    )  # fmt: skip
    if not quiet:
        print(f"\nwritten to {out.relative_to(ROOT)} ({total:.0f} s in all)")


if __name__ == "__main__":
    sys.exit(main())
