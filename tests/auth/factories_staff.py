"""Factories for the staff identity tests: members with a known password and TOTP seed, and
logins through the real HTTP flow (so the tests exercise what a console does)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

import pyotp
from sqlalchemy.orm import Session

from auth.staff import totp
from auth.staff.models import StaffMember
from core.clock import FrozenClock
from core.ids import new_id
from core.runtime import Runtime
from tests.json_client import JsonClient, JsonResponse

# Strong by zxcvbn, unrelated to any name the factories make.
PASSWORD = "violet harbour kettle quantum 7"
NEW_PASSWORD = "amber glacier trombone lantern 31"


@dataclass
class Staff:
    member: StaffMember
    password: str
    seed: str | None  # None when not enrolled

    @property
    def email(self) -> str:
        return self.member.email


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_member(
    db_session: Session,
    runtime: Runtime,
    *,
    role: str = "advocate",
    enrolled: bool = True,
    password: str = PASSWORD,
    email: str | None = None,
    display_name: str | None = None,
    password_hash: str | None = None,
) -> Staff:
    """A staff member written straight to the database (flushed, not committed)."""
    now = runtime.clock.now()
    member = StaffMember(
        id=new_id(),
        email=email or f"member-{secrets.token_hex(4)}@lantern.test",
        display_name=display_name or f"Robin {secrets.token_hex(2)}",
        role=role,
        password_hash=password_hash or runtime.hasher.hash(password),
        password_changed_at=now,
        on_duty=False,
        created_at=now,
    )
    seed = None
    if enrolled:
        seed = totp.new_seed()
        member.totp_secret_enc = totp.seal_seed(
            runtime.keyring, member.id, seed, column=totp.ACTIVE_COLUMN
        )
        member.totp_enrolled_at = now
    db_session.add(member)
    db_session.flush()
    return Staff(member=member, password=password, seed=seed)


def code(seed: str, when: dt.datetime) -> str:
    return pyotp.TOTP(seed).at(when)


def fresh_code(seed: str, clock: FrozenClock) -> str:
    """A code of a step no earlier request can have used: the clock moves one step on."""
    clock.advance(seconds=totp.INTERVAL)
    return code(seed, clock.now())


def post(client: JsonClient, url: str, body: Any = None, token: str | None = None) -> JsonResponse:
    return client.post(url, json=body, headers=headers(token) if token else None)


def login_ticket(client: JsonClient, staff: Staff, password: str | None = None) -> str:
    r = post(
        client, "/v1/staff/login", {"email": staff.email, "password": password or staff.password}
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return str(r.json["login_token"])


def login(client: JsonClient, staff: Staff, clock: FrozenClock) -> str:
    """Both login steps; returns the full session token."""
    assert staff.seed is not None
    ticket = login_ticket(client, staff)
    r = post(
        client,
        "/v1/staff/login/code",
        {"login_token": ticket, "code": fresh_code(staff.seed, clock)},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return str(r.json["session_token"])


def problem_without_request_id(r: JsonResponse) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(r.data)
    body.pop("request_id", None)
    return body
