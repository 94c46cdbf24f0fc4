"""Coordination test helpers: a world with a survivor, an advocate, two agencies; consents,
webhooks and a worker driven by the frozen clock; a fake sender and a fake resolver."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from api.wiring import wire
from auth.partners.models import PartnerAgency
from auth.principals import StaffPrincipal
from auth.staff.models import StaffMember
from auth.survivors.models import Survivor
from coordination import consents, webhooks
from coordination.alerts import create_alert
from coordination.deps import CoordinationDeps
from coordination.models import Alert, Consent, Delivery
from coordination.webhooks_http import FakeWebhookSender
from coordination.wiring import register_jobs
from core.audit import Actor
from core.clock import FrozenClock
from core.jobs import JobRegistry
from core.runtime import Runtime
from core.worker import Worker
from tests.factories import make_agency, make_staff, make_survivor

PUBLIC_IP = "93.184.216.34"  # a globally routable address (example.com's, historically)
ALL_SCOPES = ("alerts:read", "alerts:ack", "events:write")


class FakeResolver:
    """getaddrinfo stand-in: names map to addresses; anything else does not resolve."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> Sequence[Any]:
        if host not in self.names:
            raise socket.gaierror("unknown host")
        out = []
        for ip in self.names[host]:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            out.append((family, socket.SOCK_STREAM, 6, "", (ip, port)))
        return out


@dataclass
class World:
    session: Session
    runtime: Runtime
    clock: FrozenClock
    deps: CoordinationDeps
    sender: FakeWebhookSender
    resolver: FakeResolver
    survivor: Survivor
    survivor_token: str
    advocate: StaffMember
    advocate_token: str
    admin: StaffMember
    admin_token: str
    police: PartnerAgency
    police_key: str
    refuge: PartnerAgency
    refuge_key: str

    def consent(
        self,
        agency: PartnerAgency,
        kinds: Sequence[str],
        *,
        days: int = 90,
        survivor_id: uuid.UUID | None = None,
    ) -> Consent:
        """An active consent given in the app (through the service, as the route does)."""
        from auth.access.permissions import SurvivorAccess
        from auth.principals import SurvivorPrincipal

        sid = survivor_id or self.survivor.id
        access = SurvivorAccess(sid, "self", SurvivorPrincipal(sid, uuid.uuid4(), False))
        expires = self.clock.now() + dt.timedelta(days=days)
        t = consents.terms(self.session, self.clock, sid, agency.id, list(kinds), "Safety", expires)
        return consents.give(
            self.session,
            access,
            self.clock,
            self.deps,
            agency_id=agency.id,
            kinds=list(kinds),
            purpose="Safety",
            expires_at=expires,
            text_hash=t.text_hash,
        )

    def alert(
        self, kind: str, data: dict[str, Any] | None = None, *, survivor_id: uuid.UUID | None = None
    ) -> tuple[Alert, list[Delivery]]:
        """Raise an alert about the survivor as the system does (a duress, a welfare check)."""
        return create_alert(
            self.session,
            Actor.system(),
            self.clock,
            self.deps,
            survivor_id=survivor_id or self.survivor.id,
            kind=kind,
            data=data or {},
        )

    def webhook(self, agency: PartnerAgency, url: str, ip: str = PUBLIC_IP) -> str:
        """Set the agency's endpoint; returns its whsec_ secret."""
        host = url.split("//", 1)[1].split("/", 1)[0].split(":")[0]
        self.resolver.names[host] = [ip]
        admin = StaffPrincipal(self.admin.id, "admin", uuid.uuid4(), self.clock.now())
        view = webhooks.set_url(
            self.session, admin, self.clock, self.deps, agency_id=agency.id, url=url
        )
        secret = view["secret"]
        assert isinstance(secret, str)
        return secret

    def worker(self) -> Worker:
        registry = JobRegistry()
        register_jobs(registry, self.deps)
        return Worker(self.runtime.session_factory, registry, self.clock)


@pytest.fixture
def world(app: Flask, db_session: Session, runtime: Runtime, clock: FrozenClock) -> World:
    deps = wire(runtime).coordination
    sender = FakeWebhookSender()
    resolver = FakeResolver()
    deps.sender = sender
    deps.resolver = resolver
    advocate, advocate_token = make_staff(db_session, runtime, role="advocate")
    admin, admin_token = make_staff(db_session, runtime, role="admin")
    survivor, survivor_token = make_survivor(db_session, runtime, advocate=advocate)
    police, police_key = make_agency(db_session, runtime, "Police", "police", ALL_SCOPES)
    refuge, refuge_key = make_agency(db_session, runtime, "Refuge", "refuge", ALL_SCOPES)
    return World(
        db_session,
        runtime,
        clock,
        deps,
        sender,
        resolver,
        survivor,
        survivor_token,
        advocate,
        advocate_token,
        admin,
        admin_token,
        police,
        police_key,
        refuge,
        refuge_key,
    )
