"""Staff accounts: bootstrap, invitations, the staff list, disabling, ending sessions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli import main
from auth.staff.models import StaffInvitation, StaffMember, StaffSession
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import token_digest
from core.runtime import Runtime
from tests.auth.factories_staff import (
    PASSWORD,
    Staff,
    fresh_code,
    headers,
    login,
    login_ticket,
    make_member,
    post,
)
from tests.json_client import JsonClient


@pytest.fixture
def admin(db_session: Session, runtime: Runtime) -> Staff:
    return make_member(db_session, runtime, role="admin")


def _invite(client: JsonClient, token: str, **overrides: str) -> Any:
    body = {"email": "new.person@lantern.test", "role": "advocate", "display_name": "Sam Okafor"}
    body.update(overrides)
    return post(client, "/v1/admin/invitations", body, token)


def _accept(client: JsonClient, invitation_token: str, password: str = PASSWORD) -> Any:
    return post(
        client,
        "/v1/staff/invitations/accept",
        {"invitation_token": invitation_token, "password": password},
    )


def test_invitation_creates_an_unenrolled_account_once(
    client: JsonClient, db_session: Session, admin: Staff, clock: FrozenClock
) -> None:
    token = login(client, admin, clock)
    r = _invite(client, token, email="New.Person@Lantern.test")
    assert r.status_code == 201, r.get_data(as_text=True)
    invitation_token = r.json["invitation_token"]
    stored = db_session.scalars(select(StaffInvitation)).one()
    assert stored.token_digest == token_digest(invitation_token)  # digested, not stored
    assert stored.email == "new.person@lantern.test"

    accepted = _accept(client, invitation_token)
    assert accepted.status_code == 201
    assert accepted.json == {
        "id": accepted.json["id"],
        "email": "new.person@lantern.test",
        "display_name": "Sam Okafor",
        "role": "advocate",
        "enrolled": False,
        "disabled": False,
    }
    again = _accept(client, invitation_token)
    assert again.status_code == 404
    assert again.json["type"].endswith("invitation-not-valid")
    # The new account must log in and enrol before anything else.
    ticket = post(
        client, "/v1/staff/login", {"email": "new.person@lantern.test", "password": PASSWORD}
    )
    assert ticket.json["next"] == "enroll"


def test_invitation_expires(
    client: JsonClient, db_session: Session, admin: Staff, clock: FrozenClock
) -> None:
    r = _invite(client, login(client, admin, clock))
    clock.advance(hours=73)
    assert _accept(client, r.json["invitation_token"]).status_code == 404
    assert db_session.scalars(select(StaffMember).where(StaffMember.role == "advocate")).all() == []


def test_invitation_works_until_its_expiry(
    client: JsonClient, admin: Staff, clock: FrozenClock
) -> None:
    r = _invite(client, login(client, admin, clock))
    clock.advance(hours=71)
    assert _accept(client, r.json["invitation_token"]).status_code == 201


def test_a_new_invitation_replaces_the_open_one(
    client: JsonClient, admin: Staff, clock: FrozenClock
) -> None:
    token = login(client, admin, clock)
    first = _invite(client, token).json["invitation_token"]
    second = _invite(client, token).json["invitation_token"]
    assert _accept(client, first).status_code == 404
    assert _accept(client, second).status_code == 201


def test_refused_password_leaves_the_invitation_usable(
    client: JsonClient, admin: Staff, clock: FrozenClock
) -> None:
    invitation = _invite(client, login(client, admin, clock)).json["invitation_token"]
    weak = _accept(client, invitation, "password1234")
    assert weak.status_code == 422
    assert "password" in weak.json["errors"]
    named = _accept(client, invitation, "okafor harbour kettle quantum")  # the invitee's name
    assert named.status_code == 422
    assert _accept(client, invitation).status_code == 201


def test_inviting_an_existing_email_conflicts(
    client: JsonClient, admin: Staff, clock: FrozenClock
) -> None:
    r = _invite(client, login(client, admin, clock), email=admin.email.upper())
    assert r.status_code == 409


def test_admin_endpoints_need_an_admin(
    client: JsonClient, db_session: Session, runtime: Runtime, admin: Staff, clock: FrozenClock
) -> None:
    for role in ("advocate", "supervisor"):
        token = login(client, make_member(db_session, runtime, role=role), clock)
        assert _invite(client, token).status_code == 403
        assert client.get("/v1/admin/staff", headers=headers(token)).status_code == 403
        url = f"/v1/admin/staff/{admin.member.id}/disable"
        assert post(client, url, None, token).status_code == 403
        url = f"/v1/admin/staff/{admin.member.id}/sessions/end"
        assert post(client, url, None, token).status_code == 403
    pending = login_ticket(client, make_member(db_session, runtime, role="admin", enrolled=False))
    r = client.get("/v1/admin/staff", headers=headers(pending))
    assert r.status_code == 403
    assert r.json["type"].endswith("totp-enrollment-required")


def test_staff_list_shows_no_credentials(
    client: JsonClient, db_session: Session, runtime: Runtime, admin: Staff, clock: FrozenClock
) -> None:
    other = make_member(db_session, runtime, enrolled=False)
    r = client.get("/v1/admin/staff", headers=headers(login(client, admin, clock)))
    assert r.status_code == 200
    by_id = {row["id"]: row for row in r.json["staff"]}
    assert by_id[str(other.member.id)] == {
        "id": str(other.member.id),
        "email": other.email,
        "display_name": other.member.display_name,
        "role": "advocate",
        "enrolled": False,
        "disabled": False,
    }
    assert "argon2" not in r.get_data(as_text=True)


def test_disable_ends_every_session_at_once(
    client: JsonClient, db_session: Session, runtime: Runtime, admin: Staff, clock: FrozenClock
) -> None:
    target = make_member(db_session, runtime)
    sessions = [login(client, target, clock) for _ in range(3)]
    token = login(client, admin, clock)
    r = post(client, f"/v1/admin/staff/{target.member.id}/disable", None, token)
    assert r.status_code == 200
    assert r.json["disabled"] is True
    for session_token in sessions:
        assert client.get("/v1/staff/me", headers=headers(session_token)).status_code == 401
    revoked = db_session.scalars(
        select(StaffSession).where(StaffSession.staff_id == target.member.id)
    ).all()
    # One statement, one instant, one reason.
    assert {(s.revoked_at, s.revoked_reason) for s in revoked} == {
        (clock.now(), "account_disabled")
    }
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "staff.disabled")
    ).one()
    assert event.details == {"sessions_ended": 3}
    assert event.actor_id == admin.member.id
    refused = post(client, "/v1/staff/login", {"email": target.email, "password": target.password})
    assert refused.status_code == 401


def test_disable_needs_a_fresh_second_factor(
    client: JsonClient, db_session: Session, runtime: Runtime, admin: Staff, clock: FrozenClock
) -> None:
    target = make_member(db_session, runtime)
    token = login(client, admin, clock)
    clock.advance(minutes=16)
    url = f"/v1/admin/staff/{target.member.id}/disable"
    r = post(client, url, None, token)
    assert r.status_code == 401
    assert r.json["type"].endswith("step-up-required")
    assert admin.seed is not None
    assert (
        post(
            client, "/v1/staff/step-up", {"code": fresh_code(admin.seed, clock)}, token
        ).status_code
        == 200
    )
    assert post(client, url, None, token).status_code == 200


def test_the_last_active_admin_cannot_be_disabled(
    client: JsonClient, db_session: Session, runtime: Runtime, admin: Staff, clock: FrozenClock
) -> None:
    token = login(client, admin, clock)
    own = f"/v1/admin/staff/{admin.member.id}/disable"
    assert post(client, own, None, token).status_code == 409
    second = make_member(db_session, runtime, role="admin")
    assert (
        post(client, f"/v1/admin/staff/{second.member.id}/disable", None, token).status_code == 200
    )
    assert post(client, own, None, token).status_code == 409
    assert (
        post(client, f"/v1/admin/staff/{admin.member.id}/disable", None, token).status_code == 409
    )


def test_admin_ends_anyones_sessions(
    client: JsonClient, db_session: Session, runtime: Runtime, admin: Staff, clock: FrozenClock
) -> None:
    target = make_member(db_session, runtime)
    sessions = [login(client, target, clock) for _ in range(2)]
    token = login(client, admin, clock)
    r = post(client, f"/v1/admin/staff/{target.member.id}/sessions/end", None, token)
    assert r.status_code == 200
    assert r.json == {"ended": 2}
    for session_token in sessions:
        assert client.get("/v1/staff/me", headers=headers(session_token)).status_code == 401
    assert client.get("/v1/staff/me", headers=headers(token)).status_code == 200
    assert login(client, target, clock)  # ended, not disabled
    unknown = post(client, f"/v1/admin/staff/{uuid.uuid4()}/sessions/end", None, token)
    assert unknown.status_code == 404


# --- bootstrap command ----------------------------------------------------------------------


def _create(app: Flask, *args: str, password: str = PASSWORD) -> Any:
    runner = app.test_cli_runner()
    return runner.invoke(
        main,
        [
            "staff",
            "create",
            "--role",
            "admin",
            "--email",
            "Root@Lantern.test",
            "--name",
            "Ada Root",
            *args,
        ],
        env={"LANTERN_BOOTSTRAP_PASSWORD": password},
    )


def test_bootstrap_creates_the_first_admin_only(
    app: Flask, client: JsonClient, db_session: Session, clock: FrozenClock
) -> None:
    weak = _create(app, password="password1234")
    assert weak.exit_code == 1
    assert "password1234" not in weak.output
    result = _create(app)
    assert result.exit_code == 0, result.output
    member = db_session.scalars(select(StaffMember)).one()
    assert (member.email, member.role, member.totp_enrolled_at) == (
        "root@lantern.test",
        "admin",
        None,
    )
    ticket = post(client, "/v1/staff/login", {"email": "root@lantern.test", "password": PASSWORD})
    assert ticket.json["next"] == "enroll"
    refused = _create(app)
    assert refused.exit_code == 1
    assert "An active admin exists" in refused.output
    forced = _create(app, "--force")
    assert forced.exit_code == 1  # the same email still cannot be used twice
    assert "exists" in forced.output
    audit = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.created")).one()
    assert audit.details == {"role": "admin", "via": "bootstrap", "forced": False}


def test_bootstrap_force_adds_an_admin_and_prompts_twice_without_env(
    app: Flask, db_session: Session, runtime: Runtime
) -> None:
    make_member(db_session, runtime, role="admin")
    runner = app.test_cli_runner()
    args = [
        "staff",
        "create",
        "--role",
        "admin",
        "--email",
        "b@lantern.test",
        "--name",
        "Bea",
        "--force",
    ]
    mismatch = runner.invoke(
        main, args, input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert PASSWORD not in mismatch.output  # hidden input is not echoed
    admins = db_session.scalars(select(StaffMember).where(StaffMember.role == "admin")).all()
    assert len(admins) == 2


def test_admin_resets_a_lost_authenticator_and_member_enrols_again(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock, admin: Staff
) -> None:
    member = make_member(db_session, runtime, role="advocate")
    old_session = login(client, member, clock)
    admin_token = login(client, admin, clock)
    r = post(client, f"/v1/admin/staff/{member.member.id}/reset-second-factor", None, admin_token)
    assert r.status_code == 200, r.json
    # Every session of the member ended; their recovery codes and seed are gone.
    assert client.get("/v1/staff/me", headers=headers(old_session)).status_code == 401
    db_session.expire_all()
    row = db_session.get(StaffMember, member.member.id)
    assert row is not None
    assert row.totp_secret_enc is None
    assert row.totp_enrolled_at is None
    # Next login goes to enrolment instead of asking for a code from the lost phone.
    r = post(client, "/v1/staff/login", {"email": member.email, "password": member.password})
    assert r.status_code == 200
    assert r.json["next"] == "enroll"
    actions = [e.action for e in db_session.scalars(select(AuditEvent))]
    assert "staff.second_factor_reset" in actions


def test_admin_cannot_reset_own_authenticator_and_non_admins_cannot_reset(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock, admin: Staff
) -> None:
    admin_token = login(client, admin, clock)
    r = post(client, f"/v1/admin/staff/{admin.member.id}/reset-second-factor", None, admin_token)
    assert r.status_code == 409
    advocate = make_member(db_session, runtime, role="advocate")
    token = login(client, advocate, clock)
    r = post(client, f"/v1/admin/staff/{admin.member.id}/reset-second-factor", None, token)
    assert r.status_code == 403


def test_a_disabled_account_can_be_enabled_again(
    client: JsonClient, db_session: Session, runtime: Runtime, clock: FrozenClock, admin: Staff
) -> None:
    member = make_member(db_session, runtime, role="advocate")
    admin_token = login(client, admin, clock)
    assert (
        post(client, f"/v1/admin/staff/{member.member.id}/disable", None, admin_token).status_code
        == 200
    )
    r = post(client, "/v1/staff/login", {"email": member.email, "password": member.password})
    assert r.status_code == 401
    r = post(client, f"/v1/admin/staff/{member.member.id}/enable", None, admin_token)
    assert r.status_code == 200
    assert r.json["disabled"] is False
    r = post(client, "/v1/staff/login", {"email": member.email, "password": member.password})
    assert r.status_code == 200
