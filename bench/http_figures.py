"""The HTTP figures: each measured right after its reference (``GET /healthz``) in the same run."""

from __future__ import annotations

import threading
import time

import requests

from bench.load import Figure, load, with_reference
from tests.e2e.client import StaffAccount, SurvivorAccount, login_staff, plan_body
from tests.e2e.harness import wait_until


def http_figures(
    base: str, group: list[SurvivorAccount], advocate: StaffAccount, n: int, c: int
) -> list[Figure]:
    """Survivor reads their plan, saves a plan version; advocate sends a message."""
    k_max = len(group)

    def plan_read() -> Figure:
        return load(
            "survivor reads their plan", base,
            lambda h, i: h.get(
                base + "/v1/survivor/safety-plan", timeout=30,
                headers={"Authorization": f"Bearer {group[i % k_max].api.token}"},
            ).status_code, n, c,
        )  # fmt: skip

    etags: dict[int, str] = {}
    etag_lock = threading.Lock()

    def plan_save() -> Figure:
        for k, s in enumerate(group):
            etags[k] = s.api.call("GET", "/v1/survivor/safety-plan").headers["ETag"]
        mine = threading.local()
        next_k = iter(range(k_max))

        def put(h: requests.Session, i: int) -> int:
            # Each client edits its own survivor's plan with the ETag it last got back, as
            # one app would; no client races another on the same plan.
            if not hasattr(mine, "k"):
                with etag_lock:
                    mine.k = next(next_k)
            k = mine.k
            r = h.put(
                base + "/v1/survivor/safety-plan", json=plan_body(f"version {i}"),
                timeout=30, headers={"Authorization": f"Bearer {group[k].api.token}",
                                     "If-Match": etags[k]},
            )  # fmt: skip
            if r.status_code == 200:
                etags[k] = r.headers["ETag"]
            return r.status_code

        return load("survivor saves a plan version", base, put, n // 2, k_max)

    def send_message() -> Figure:
        token = advocate.api.token
        return load(
            "advocate sends a message", base,
            lambda h, i: h.post(
                f"{base}/v1/staff/survivors/{group[i % k_max].id}/messages",
                json={"body": f"Checking in, message {i}"}, timeout=30,
                headers={"Authorization": f"Bearer {token}"},
            ).status_code, n // 2, c,
        )  # fmt: skip

    figures: list[Figure] = []
    for fig_of in (plan_read, plan_save, send_message):
        figures += with_reference(base, fig_of, n, c)
        print(f"bench: {figures[-1].name}: {figures[-1].per_second:.0f}/s", flush=True)
    return figures


def login_figures(base: str, logins: list[StaffAccount], n: int, c: int) -> list[Figure]:
    """Staff login (password + TOTP): each account once, as a TOTP step is never reused."""
    step = max(a.last_step for a in logins)
    wait_until("a fresh TOTP step", lambda: int(time.time()) // 30 > step, 40, 0.2)

    def login(h: requests.Session, i: int) -> int:
        login_staff(logins[i])
        return 200

    return with_reference(
        base, lambda: load("staff login (password + TOTP)", base, login, len(logins), 4), n, c
    )
