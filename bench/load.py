"""HTTP load for the benchmarks: keep-alive clients, latencies, and the same-run reference."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests


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
