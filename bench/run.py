"""``make bench``: whole-flow benchmarks on loopback against gunicorn + PostgreSQL.

Every figure is measured in the same run as its reference (``GET /healthz`` of the same app on
the same server, measured just before it) and reported as a ratio as well as absolute req/s,
p50 and p99. Prints one table and writes the same figures as JSON under ``bench/results/``.

    .venv/bin/python -m bench.run                 # the full run (about 25 minutes)
    .venv/bin/python -m bench.run --scale 0.05    # a smoke run: 500 check-ins, 500 alerts
    .venv/bin/python -m bench.run --only burst --bursts 2,1x16   # one figure, two setups

The processes are real (``tests/e2e/harness.py``): a fresh database on the local PostgreSQL,
gunicorn (2 processes x 4 threads), ``lantern worker`` processes at the default settings
(``LANTERN_WORKER_THREADS``, 1 s poll), a Twilio stand-in answering after 200 ms, and three Standard
Webhooks receivers (one per agency) verifying every delivery. Argon2 runs at the production
defaults (t=3, 64 MiB); its own cost is measured and printed separately.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict

from bench.accounts import consent, schedule_checkins, survivors
from bench.console_figures import console_figures
from bench.figures import argon2_cost, burst, escalation_latency, fanout
from bench.http_figures import http_figures, login_figures
from bench.load import Figure
from core.settings import Settings
from tests.e2e.client import bootstrap_admin, invite_staff, register_agency
from tests.e2e.harness import (
    ROOT,
    TwilioStandIn,
    WebhookReceiver,
    allowlist,
    build_stack,
    make_workdir,
    wait_until,
)

RESULTS = ROOT / "bench" / "results"
APP_PROCESSES, APP_THREADS = 2, 4
PHASES = ("http", "login", "console", "fanout", "escalation", "burst")
DEFAULT_THREADS = Settings().worker_threads


def parse_bursts(text: str) -> list[tuple[int, int]]:
    """``2,1x16`` -> [(2, default threads), (1, 16)]."""
    bursts = []
    for part in text.split(","):
        workers, _, threads = part.partition("x")
        bursts.append((int(workers), int(threads) if threads else DEFAULT_THREADS))
    return bursts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply the burst and alert counts")
    p.add_argument("--requests", type=int, default=1500, help="requests per HTTP figure")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--logins", type=int, default=24)
    p.add_argument(
        "--bursts", default="2,1",
        help="the check-in bursts, as worker counts (2,1) or WORKERSxTHREADS (2x16,1x32)",
    )  # fmt: skip
    p.add_argument("--only", default=",".join(PHASES), help=f"some of: {', '.join(PHASES)}")
    args = p.parse_args(argv)
    only = set(args.only.split(","))
    if not only <= set(PHASES):
        p.error(f"--only takes {', '.join(PHASES)}")
    n_burst, n_alerts = int(10_000 * args.scale), int(10_000 * args.scale)
    n, c = args.requests, args.concurrency

    workdir = make_workdir("lantern-bench-")
    receiver = WebhookReceiver()
    receiver_base = receiver.start()
    twilio = TwilioStandIn(delay=0.2)
    twilio_url = twilio.start()
    stack, drop = build_stack(
        workdir,
        twilio_url=twilio_url,
        extra={
            "LANTERN_JOB_POLL_SECONDS": "1.0",
            "LANTERN_WEBHOOK_ALLOWLIST": allowlist(receiver_base),
        },
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
        esc_group = survivors(advocate, 20, 1000, 5) if "escalation" in only else []
        burst_group = survivors(advocate, 50, 2000, 240) if "burst" in only else []
        console_advocate = invite_staff(admin, "console@bench.test") if "console" in only else None
        console_group = survivors(console_advocate, 50, 3000, 240) if console_advocate else []
        logins = [
            invite_staff(admin, f"login{i}@bench.test")
            for i in range(args.logins if "login" in only else 0)
        ]
        print(f"bench: setup done in {time.monotonic() - t_start:.0f} s")

        # Escalation timers first: they end 6 minutes from now, while the rest runs.
        esc_due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
        if esc_group:
            schedule_checkins(esc_group, 10 * len(esc_group), esc_due, "app", c)
        esc_grace_end = esc_due + dt.timedelta(minutes=5)
        stack.start_worker()

        if "http" in only:
            figures += http_figures(base, http_group, advocate, n, c)
            report(figures, args, time.monotonic() - t_start, quiet=True)
        if "login" in only:
            figures += login_figures(base, logins, n, c)
            cost = argon2_cost(stack.env)
            figures[-1].note = (
                f"argon2id t={cost['time_cost']}, m={cost['memory_kib']} KiB, "
                f"p={cost['parallelism']}: {cost['verify_ms_median']} ms per verify, measured "
                "alone in this process; each login verifies one password"
            )

        if console_advocate is not None:
            figures += console_figures(base, console_advocate, console_group, max(100, n // 5))

        # Alert fan-out with two workers; the escalation timers end while it runs.
        def fan() -> Figure:
            advocate.api.post("/v1/staff/step-up", {"code": advocate.fresh_code()}, expect=200)
            stack.start_worker()
            return fanout(base, advocate, http_group, receiver, n_alerts, 3, 16)

        if "fanout" in only:
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

        if esc_group:
            phase(figures, "escalation latency", escalations)

        for workers, threads in parse_bursts(args.bursts) if burst_group else []:

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
    if args.only != ",".join(PHASES):
        suffix += "-" + args.only.replace(",", "-")
    out = RESULTS / f"{stamp}{suffix}.json"
    out.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()},
                "setup": {"gunicorn": f"{APP_PROCESSES} processes x {APP_THREADS} threads",
                          "worker_threads": DEFAULT_THREADS, "job_poll_seconds": 1.0,
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
