"""HTTP-only clients for the walkthrough, the drills and the benchmarks.

Everything a person does here goes through Lantern's public API over real HTTP; the only
other door used is the documented bootstrap command (``lantern staff create``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pyotp
import requests

from tests.e2e.harness import Stack, random_password


class ApiError(AssertionError):
    pass


class Api:
    """A keep-alive HTTP client for one caller (bearer token optional)."""

    def __init__(self, base: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int | tuple[int, ...] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        r = self.http.request(method, self.base + path, json=body, headers=h, timeout=self.timeout)
        wanted = (expect,) if isinstance(expect, int) else expect
        if wanted is not None and r.status_code not in wanted:
            raise ApiError(f"{method} {path}: {r.status_code} (wanted {wanted}): {r.text[:500]}")
        return r

    def get(self, path: str, expect: int | tuple[int, ...] | None = 200, **kw: Any) -> Any:
        return self.call("GET", path, expect=expect, **kw).json()

    def post(self, path: str, body: Any = None, expect: int | tuple[int, ...] = (200, 201)) -> Any:
        r = self.call("POST", path, body, expect=expect)
        return r.json() if r.content else None

    def put(
        self, path: str, body: Any, expect: int | tuple[int, ...] = (200, 204), **kw: Any
    ) -> Any:
        r = self.call("PUT", path, body, expect=expect, **kw)
        return r.json() if r.content else None


# --- staff ------------------------------------------------------------------------------------


@dataclass
class StaffAccount:
    email: str
    password: str
    seed: str
    api: Api
    last_step: int = 0

    def fresh_code(self, timeout: float = 40.0) -> str:
        """A TOTP code of a step never used before (Lantern refuses any replayed step)."""
        totp = pyotp.TOTP(self.seed)
        deadline = time.monotonic() + timeout
        while int(time.time()) // 30 <= self.last_step:
            if time.monotonic() > deadline:
                raise AssertionError("no fresh TOTP step within the timeout")
            time.sleep(0.2)
        self.last_step = int(time.time()) // 30
        return totp.now()


def _seed_of(otpauth_uri: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlparse(otpauth_uri).query)
    return query["secret"][0]


def enrol_staff(base: str, email: str, password: str) -> StaffAccount:
    """First login of a staff member: password, then enrol TOTP from the otpauth URI."""
    api = Api(base)
    ticket = api.post("/v1/staff/login", {"email": email, "password": password}, expect=200)
    if ticket["next"] != "enroll":
        raise ApiError(f"expected an enrolment ticket, got next={ticket['next']}")
    api.token = ticket["login_token"]
    provisioning = api.post("/v1/staff/totp/enroll", None, expect=200)
    if not provisioning["qr_svg"].lstrip().startswith(("<svg", "<?xml")):
        raise ApiError("enrolment did not return an SVG QR code")
    account = StaffAccount(email, password, _seed_of(provisioning["otpauth_uri"]), api)
    done = api.post("/v1/staff/totp/confirm", {"code": account.fresh_code()}, expect=200)
    if len(done["recovery_codes"]) != 10:
        raise ApiError("expected ten recovery codes")
    api.token = done["session_token"]
    return account


def login_staff(account: StaffAccount) -> str:
    """Password, then a fresh TOTP code: a new full session token (also set on the client)."""
    api = Api(account.api.base)
    ticket = api.post(
        "/v1/staff/login", {"email": account.email, "password": account.password}, expect=200
    )
    api.token = ticket["login_token"]
    token: str = api.post(
        "/v1/staff/login/code",
        {"login_token": ticket["login_token"], "code": account.fresh_code()},
        expect=200,
    )["session_token"]
    account.api.token = token
    return token


def bootstrap_admin(stack: Stack, email: str = "admin@lantern.test") -> StaffAccount:
    password = random_password()
    stack.lantern(
        "staff", "create", "--role", "admin", "--email", email, "--name", "First Admin",
        extra_env={"LANTERN_BOOTSTRAP_PASSWORD": password},
    )  # fmt: skip
    return enrol_staff(stack.base, email, password)


def invite_staff(
    admin: StaffAccount, email: str, role: str = "advocate", password: str | None = None
) -> StaffAccount:
    invitation = admin.api.post(
        "/v1/admin/invitations",
        {"email": email, "display_name": email.split("@")[0].title(), "role": role},
        expect=201,
    )
    password = password or random_password()
    Api(admin.api.base).post(
        "/v1/staff/invitations/accept",
        {"invitation_token": invitation["invitation_token"], "password": password},
        expect=201,
    )
    return enrol_staff(admin.api.base, email, password)


# --- partner agencies ---------------------------------------------------------------------------


@dataclass
class Agency:
    id: str
    name: str
    api: Api  # authenticated with the agency's API key
    webhook_path: str
    webhook_secret: str


def register_agency(
    admin: StaffAccount, name: str, kind: str, receiver_base: str, path: str
) -> Agency:
    agency = admin.api.post("/v1/admin/agencies", {"name": name, "kind": kind}, expect=201)
    key = admin.api.post(
        f"/v1/admin/agencies/{agency['id']}/api-keys",
        {"scopes": ["alerts:read", "alerts:ack", "events:write"]},
        expect=201,
    )
    hook = admin.api.put(
        f"/v1/admin/agencies/{agency['id']}/webhook", {"url": receiver_base + path}, expect=200
    )
    return Agency(agency["id"], name, Api(admin.api.base, key["api_key"]), path, hook["secret"])


# --- survivors -----------------------------------------------------------------------------------


@dataclass
class SurvivorAccount:
    id: str
    handle: str
    pin: str
    api: Api
    refresh_token: str


def _caseload(advocate: StaffAccount) -> set[str]:
    return {str(c["survivor_id"]) for c in advocate.api.get("/v1/staff/caseload")["items"]}


def enrol_survivor(
    advocate: StaffAccount, pin: str, duress_pin: str | None = None
) -> SurvivorAccount:
    before = _caseload(advocate)
    code = advocate.api.post("/v1/staff/enrollment-codes", None, expect=201)["code"]
    api = Api(advocate.api.base)
    body: dict[str, Any] = {"code": code, "pin": pin, "device_label": "phone"}
    if duress_pin:
        body["duress_pin"] = duress_pin
    enrolled = api.post("/v1/survivor/enroll", body, expect=201)
    api.token = enrolled["access_token"]
    # The survivor never learns their own id; the advocate's caseload gained exactly one.
    new = _caseload(advocate) - before
    if len(new) != 1:
        raise ApiError(f"expected one new survivor on the caseload, got {len(new)}")
    return SurvivorAccount(
        new.pop(), enrolled["account_handle"], pin, api, enrolled["refresh_token"]
    )


def enrol_texting_survivor(
    advocate: StaffAccount, pin: str, phone: str, grace_minutes: int, lock: threading.Lock
) -> SurvivorAccount:
    """A survivor with a phone and reply codes ("1" safe, "2" help), ready for SMS check-ins.

    ``lock`` serialises enrolments: the new survivor's id is read as the one the advocate's
    caseload gained.
    """
    with lock:
        s = enrol_survivor(advocate, pin)
    s.api.put("/v1/survivor/phone", {"phone": phone}, expect=204)
    s.api.put(
        "/v1/survivor/check-ins/settings",
        {"grace_minutes": grace_minutes, "second_window_minutes": 240, "safe_reply": "1",
         "help_reply": "2"},
        expect=200,
    )  # fmt: skip
    return s


def survivor_login(base: str, handle: str, pin: str) -> dict[str, Any]:
    out: dict[str, Any] = Api(base).post(
        "/v1/survivor/login", {"account_handle": handle, "pin": pin, "device_label": "phone"},
        expect=200,
    )  # fmt: skip
    return out


PLAN_SECTIONS = [
    "after_leaving",
    "children",
    "code_words",
    "documents",
    "emergency_numbers",
    "escape_bag",
    "notes",
    "pets",
    "protection_orders",
    "safe_contacts",
    "safe_places",
    "technology_safety",
    "wellbeing",
    "work_school",
]


def plan_body(note: str) -> dict[str, Any]:
    sections: dict[str, list[dict[str, Any]]] = {s: [] for s in PLAN_SECTIONS}
    sections["safe_contacts"] = [{"text": "My sister", "code_word": "blue umbrella"}]
    sections["escape_bag"] = [{"text": "Passport", "checked": True}, {"text": "Spare keys"}]
    sections["notes"] = [{"text": note}]
    return {"sections": sections}


def save_plan(api: Api, path: str, note: str) -> str:
    """Read the plan (ETag), write a new version with If-Match; the new ETag."""
    r = api.call("GET", path, expect=200)
    etag = r.headers["ETag"]
    w = api.call("PUT", path, plan_body(note), expect=200, headers={"If-Match": etag})
    return w.headers["ETag"]


def in_minutes(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()
