"""schemathesis over the coordination part of the contract: no 5xx, no schema violations.

Each family with its owner's credential: the survivor's app, an advocate, an admin and a
partner key with every scope. Webhook URLs are resolved by a fake resolver (no real DNS).
"""

from __future__ import annotations

from flask import Flask

from tests.coordination.conftest import World
from tests.factories import auth_header
from tests.fuzzing import fuzz_contract

PATHS = (
    r"^/v1/(survivor/(agencies|consents|disclosures|sharing-)"
    r"|staff/survivors/[^/]+/(consents|alerts|disclosures|agency-events|lawful-shares)"
    r"|partner/(alerts|events)|admin/(agencies/[^/]+/webhook|deliveries))"
)


def test_coordination_contract_holds_under_fuzzing(app: Flask, world: World) -> None:
    world.consent(world.police, ["welfare_check"])
    world.session.commit()
    owners = {
        "/v1/staff/": world.advocate_token,
        "/v1/survivor/": world.survivor_token,
        "/v1/admin/": world.admin_token,
    }

    def headers_for(path: str) -> dict[str, str]:
        token = next((t for prefix, t in owners.items() if path.startswith(prefix)), None)
        return auth_header(token or world.police_key)

    report = fuzz_contract(app, path_regex=PATHS, headers_for=headers_for)
    assert report.operations >= 25
    assert not report.failures, report.summary()
