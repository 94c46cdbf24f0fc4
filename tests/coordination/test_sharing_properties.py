"""A property: whatever survivors and time do, nothing reaches an agency outside a consent.

hypothesis drives random sequences of giving and revoking consents, raising alerts, failing
receivers, time passing and the worker running. A checking sender asserts, at the moment of
every send, that the delivery's consent is in force and covers the alert's kind (a small
model of the consents, kept beside the database); and a webhook-id is accepted at most once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from auth.access.permissions import SurvivorAccess
from auth.principals import SurvivorPrincipal
from coordination import consents
from coordination.vocab import ALERT_CONSENT_KIND
from coordination.webhooks_http import SendResult
from tests.coordination.conftest import World
from tests.factories import make_survivor


@dataclass
class ModelConsent:
    agency: int
    kinds: tuple[str, ...]
    expires_at: dt.datetime
    revoked: bool = False


@dataclass
class CheckingSender:
    world: World
    model: dict[uuid.UUID, ModelConsent] = field(default_factory=dict)
    deliveries: dict[str, tuple[uuid.UUID, str]] = field(default_factory=dict)
    failing: bool = False
    accepted: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    sends: int = 0

    def send(
        self, url: str, resolved_ip: str, headers: dict[str, str], body: bytes, timeout: float
    ) -> SendResult:
        # Recorded, not asserted: the worker would swallow an exception raised in here.
        consent_id, kind = self.deliveries[headers["webhook-id"]]
        c = self.model[consent_id]
        now = self.world.clock.now()
        if c.revoked:
            self.violations.append("sent under a revoked consent")
        if now >= c.expires_at:
            self.violations.append("sent under an expired consent")
        if ALERT_CONSENT_KIND[kind] not in c.kinds:
            self.violations.append("sent a kind the consent does not cover")
        self.sends += 1
        if self.failing:
            return SendResult(503, {})
        self.accepted[headers["webhook-id"]] = self.accepted.get(headers["webhook-id"], 0) + 1
        return SendResult(200, {})


ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("give"),
            st.integers(0, 1),
            st.sets(st.sampled_from(["welfare_check", "safety_status"]), min_size=1),
            st.integers(1, 5),
        ),
        st.tuples(st.just("revoke"), st.integers(0, 10)),
        st.tuples(st.just("alert"), st.sampled_from(["welfare_check", "duress", "safety_status"])),
        st.tuples(st.just("advance"), st.sampled_from([10, 600, 7200, 86400])),
        st.tuples(st.just("work")),
        st.tuples(st.just("toggle")),
    ),
    min_size=1,
    max_size=14,
)


def test_nothing_is_ever_sent_outside_a_consent(world: World) -> None:
    world.webhook(world.police, "https://hooks.police.example/in")
    world.webhook(world.refuge, "https://refuge.example/in")
    agencies = [world.police, world.refuge]
    # One sender for all examples: a job left over from an earlier example is still known.
    sender = CheckingSender(world)
    world.deps.sender = sender

    # The two sequences the issue names, always tried besides the random ones.
    @example(
        program=[("give", 0, {"welfare_check"}, 5), ("alert", "duress"), ("revoke", 0), ("work",)]
    )
    @example(
        # Delivered while the consent is in force, then time moves past its expiry: this
        # example always sends, so the property is never checked vacuously.
        program=[
            ("give", 1, {"safety_status"}, 1),
            ("alert", "safety_status"),
            ("work",),
            ("advance", 86400),
            ("alert", "safety_status"),
            ("work",),
        ]
    )
    @given(program=ops)
    @hsettings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(program: list[tuple[Any, ...]]) -> None:  # each op as ``ops`` draws it
        survivor, _ = make_survivor(world.session, world.runtime)  # a fresh one per example
        sender.failing = False
        access = SurvivorAccess(
            survivor.id, "self", SurvivorPrincipal(survivor.id, uuid.uuid4(), False)
        )
        given_ids: list[uuid.UUID] = []
        worker = world.worker()
        for op in program:
            if op[0] == "give":
                _, index, kinds, days = op
                agency = agencies[int(index)]
                expires = world.clock.now() + dt.timedelta(days=int(days))
                chosen = sorted(kinds)
                t = consents.terms(
                    world.session, world.clock, survivor.id, agency.id, chosen, "P", expires
                )
                c = consents.give(
                    world.session,
                    access,
                    world.clock,
                    world.deps,
                    agency_id=agency.id,
                    kinds=chosen,
                    purpose="P",
                    expires_at=expires,
                    text_hash=t.text_hash,
                )
                sender.model[c.id] = ModelConsent(int(index), tuple(chosen), expires)
                given_ids.append(c.id)
            elif op[0] == "revoke" and given_ids:
                target = given_ids[int(op[1]) % len(given_ids)]
                consents.revoke(world.session, access, world.clock, consent_id=target)
                sender.model[target].revoked = True
            elif op[0] == "alert":
                kind = str(op[1])
                data = {"status": "safe"} if kind == "safety_status" else {}
                _, sent = world.alert(kind, data, survivor_id=survivor.id)
                for d in sent:
                    assert d.consent_id is not None
                    sender.deliveries[d.webhook_id] = (d.consent_id, kind)
            elif op[0] == "advance":
                world.clock.advance(seconds=int(op[1]))
            elif op[0] == "work":
                worker.run_once()
            elif op[0] == "toggle":
                sender.failing = not sender.failing
            world.session.expire_all()
        assert sender.violations == []
        assert all(n == 1 for n in sender.accepted.values())

    run()
    assert sender.sends > 0  # the property was exercised, not vacuously true
