"""The console's pages, timed as an advocate with 50 survivors on her caseload sees them.

Each page is requested one after another by one signed-in browser-like client (keep-alive,
the console cookie, no JavaScript): the time is the server's plus loopback, so it bounds the
server time from above. The issue's budget is 150 ms at p99 for every page; each figure's note
says whether it is met. The pages are found as a person finds them: Today, the caseload, and
every tab the record page links to, for one survivor of the caseload.
"""

from __future__ import annotations

import re

import requests

from bench.load import Figure, load
from tests.e2e.client import StaffAccount, SurvivorAccount

COOKIE = "__Host-lantern"
BUDGET_P99_MS = 150.0
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_RECORD_NAV = re.compile(r'<nav aria-label="Record".*?</nav>', re.S)
_HREF = re.compile(r'href="([^"]+)"')


class ConsoleClient:
    """Requests with the console cookie carried by hand: ``requests`` never sends a Secure
    cookie over plain http, and the bench talks to gunicorn on loopback without TLS."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookie = ""

    def _keep(self, r: requests.Response) -> requests.Response:
        value = r.cookies.get(COOKIE)
        if value:
            self.cookie = value
        return r

    def get(self, http: requests.Session, path: str) -> requests.Response:
        return self._keep(
            http.get(self.base + path, headers={"Cookie": f"{COOKIE}={self.cookie}"},
                     allow_redirects=False, timeout=30)
        )  # fmt: skip

    def post(self, http: requests.Session, path: str, form: dict[str, str]) -> requests.Response:
        return self._keep(
            http.post(self.base + path, data=form, headers={"Cookie": f"{COOKIE}={self.cookie}"},
                      allow_redirects=False, timeout=30)
        )  # fmt: skip


def _csrf(page: requests.Response) -> str:
    found = _CSRF.search(page.text)
    if found is None:
        raise AssertionError(f"no form on {page.url}")
    return found.group(1)


def sign_in(base: str, account: StaffAccount) -> ConsoleClient:
    client, http = ConsoleClient(base), requests.Session()
    page = client.get(http, "/console/sign-in")
    first = client.post(
        http, "/console/sign-in",
        {"csrf_token": _csrf(page), "email": account.email, "password": account.password},
    )  # fmt: skip
    if first.status_code != 303:
        raise AssertionError(f"console sign-in refused: {first.status_code}")
    page = client.get(http, "/console/sign-in/code")
    done = client.post(
        http, "/console/sign-in/code", {"csrf_token": _csrf(page), "code": account.fresh_code()}
    )
    if done.status_code != 303:
        raise AssertionError(f"console code refused: {done.status_code}")
    return client


def pages(client: ConsoleClient, survivor: SurvivorAccount) -> list[tuple[str, str]]:
    """(name, path) of every page to time: Today, its queue, the caseload, each record tab."""
    http = requests.Session()
    found = [("today", "/console/today"), ("today queue", "/console/today/queue"),
             ("caseload", "/console/caseload"), ("my account", "/console/account"),
             ("my sessions", "/console/account/sessions")]  # fmt: skip
    record = client.get(http, f"/console/survivors/{survivor.id}")
    if record.status_code == 303:
        record = client.get(http, record.headers["Location"].removeprefix(client.base))
    nav = _RECORD_NAV.search(record.text)
    for href in _HREF.findall(nav.group(0) if nav else ""):
        found.append(("record " + href.rstrip("/").rsplit("/", 1)[-1], href))
    return found


def console_figures(
    base: str, advocate: StaffAccount, caseload: list[SurvivorAccount], n: int
) -> list[Figure]:
    client = sign_in(base, advocate)
    figures = []
    for name, path in pages(client, caseload[0]):

        def one(http: requests.Session, _i: int, path: str = path) -> int:
            return client.get(http, path).status_code

        figure = load(f"console: {name}", base, one, n, 1)
        met = figure.p99_ms is not None and figure.p99_ms <= BUDGET_P99_MS
        figure.note = (
            f"{len(caseload)} survivors on the caseload; budget p99 <= {BUDGET_P99_MS:.0f} ms: "
            + ("met" if met else "OVER")
        )
        figures.append(figure)
        print(f"bench: {figure.name}: p99 {figure.p99_ms} ms", flush=True)
    return figures
