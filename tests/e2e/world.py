"""A populated deployment for the drills: staff, agencies with webhooks, survivors with phones."""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

from tests.e2e.client import (
    Agency,
    Api,
    StaffAccount,
    SurvivorAccount,
    bootstrap_admin,
    enrol_texting_survivor,
    invite_staff,
    register_agency,
)
from tests.e2e.harness import Deployment, Stack


@dataclass
class World:
    dep: Deployment
    admin: StaffAccount
    advocate: StaffAccount
    agencies: list[Agency]
    survivors: list[SurvivorAccount]

    @property
    def base(self) -> str:
        return self.dep.stack.base


def populate(
    dep: Deployment,
    *,
    survivors: int,
    agencies: int = 3,
    grace: int = 240,
    password: str | None = None,
) -> World:
    """Admin, advocate, ``agencies`` agencies (webhooks at the receiver), survivors with
    phones, reply codes and a consent to every agency for every alert kind."""
    assert dep.receiver.server is not None, "the deployment starts its receiver"
    receiver_base = f"http://127.0.0.1:{dep.receiver.server.server_address[1]}"
    admin = bootstrap_admin(dep.stack)
    advocate = invite_staff(admin, "advocate@drill.test", "advocate", password=password)
    kinds = ["police", "probation", "refuge"][:agencies]
    made = [register_agency(admin, k.title(), k, receiver_base, f"/{k}") for k in kinds]
    for a in made:
        dep.receiver.secrets[a.webhook_path] = a.webhook_secret
    lock = threading.Lock()

    def one(i: int) -> SurvivorAccount:
        s = enrol_texting_survivor(
            advocate, f"{secrets.randbelow(9 * 10**7) + 10**7}", f"+44791{5000000 + i:07d}",
            grace, lock,
        )  # fmt: skip
        for a in made:
            terms = s.api.post(
                "/v1/survivor/consents/preview",
                {"agency_id": a.id, "kinds": ["welfare_check", "safety_status"],
                 "purpose": "Keep me safe"},
                expect=200,
            )  # fmt: skip
            s.api.post(
                "/v1/survivor/consents",
                {k: terms[k] for k in ("agency_id", "kinds", "purpose", "expires_at", "text_hash")},
                expect=201,
            )
        return s

    with ThreadPoolExecutor(4) as pool:
        people = list(pool.map(one, range(survivors)))
    return World(dep, admin, advocate, made, people)


def sql(stack: Stack, query: str, *params: object) -> list[tuple[Any, ...]]:
    """Read the stack's database directly (observation only: the drills act through HTTP)."""
    with psycopg.connect(stack.database_url.replace("+psycopg", ""), connect_timeout=10) as c:
        return list(c.execute(query, params).fetchall())


def bearer(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token}"}
