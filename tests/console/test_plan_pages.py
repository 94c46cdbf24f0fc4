"""The record's safety plan tab: read, co-edit with If-Match, merge after a save meanwhile,
versions, diffs, restore, recommendations; tested as an advocate uses it and as an attacker
would try it (stale or forged ETags, no CSRF token, someone else's survivor, break-glass,
malformed text)."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.app import create_app
from auth.access.break_glass import open_break_glass
from auth.access.models import CaseloadEntry
from auth.access.permissions import SurvivorAccess
from auth.principals import StaffPrincipal, SurvivorPrincipal
from auth.survivors.models import Survivor
from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import KeyRing, SecretHasher
from core.db import make_engine
from core.runtime import Runtime, build_runtime
from safety_plans import plans
from safety_plans.deps import SafetyPlansDeps
from tests.auth.factories_staff import Staff, make_member
from tests.conftest import make_settings
from tests.console.browser import Browser
from tests.console.html_forms import form_fields
from tests.factories import auth_header, make_staff, make_survivor
from tests.json_client import JsonClient, JsonResponse

PLAN_API = "/v1/survivor/safety-plan"


@dataclass
class Case:
    survivor: Survivor
    headers: dict[str, str]  # the survivor's app

    @property
    def base(self) -> str:
        return f"/console/survivors/{self.survivor.id}"


@pytest.fixture
def case(db_session: Session, runtime: Runtime, advocate: Staff) -> Case:
    survivor, token = make_survivor(db_session, runtime, advocate.member)
    db_session.commit()
    return Case(survivor, auth_header(token))


def plan_now(client: JsonClient, case: Case) -> JsonResponse:
    """The plan as the survivor's app reads it."""
    answer = client.get(PLAN_API, headers=case.headers)
    assert answer.status_code == 200, answer.json
    return answer


def survivor_saves(client: JsonClient, case: Case, changes: dict[str, list[Any]]) -> JsonResponse:
    read = plan_now(client, case)
    sections = copy.deepcopy(read.json["sections"]) | changes
    answer = client.put(
        PLAN_API,
        json={"sections": sections},
        headers=case.headers | {"If-Match": read.headers["ETag"]},
    )
    assert answer.status_code == 200, answer.json
    return answer


def edit_form(browser: Browser, case: Case) -> dict[str, str]:
    page = browser.get(f"{case.base}/plan/edit")
    assert page.status_code == 200
    return form_fields(page.get_data(as_text=True), "plan-form")


def html(answer: Any) -> str:
    text: str = answer.get_data(as_text=True)
    return text


def test_the_record_opens_on_the_plan_tab_which_shows_the_plan(
    browser: Browser, advocate: Staff, clock: FrozenClock, case: Case, client: JsonClient
) -> None:
    browser.sign_in(advocate, clock.now())
    opened = browser.get(case.base)
    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(f"{case.base}/plan")
    page = browser.get(f"{case.base}/plan")
    assert page.status_code == 200
    body = html(page)
    tabs = body[body.index('class="tabs"') :]
    assert tabs.index(f'href="{case.base}/plan"') < tabs.index("</nav>")
    first_tab = tabs[tabs.index("<li>") : tabs.index("</li>")]
    assert f'href="{case.base}/plan"' in first_tab, "the plan is the record's first tab"
    assert "Safe contacts" in body
    assert "Spare keys (house, car)" in body
    assert "Version 1" in body
    # Nothing of the plan in the title.
    title = body[body.index("<title>") : body.index("</title>")]
    assert "Spare keys" not in title
    assert plan_now(client, case).json["version"]["number"] == 1


def test_an_advocate_edits_and_saves_the_plan(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    db_session: Session,
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    assert fields["etag"] == plan_now(client, case).headers["ETag"]
    fields["notes-0-text"] = "Call the refuge on Monday\r\nask for Jo"
    fields["escape_bag-0-checked"] = "y"
    fields["pets-0-text"] = ""  # cleared: removed
    fields["safe_contacts-0-code_word"] = "blue kettle"
    saved = browser.post(f"{case.base}/plan/edit", fields)
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"{case.base}/plan?note=saved")
    plan = plan_now(client, case).json
    assert plan["version"]["number"] == 2
    assert plan["version"]["author"] == "advocate"
    sections = plan["sections"]
    assert sections["notes"] == [{"text": "Call the refuge on Monday\nask for Jo"}]
    assert sections["escape_bag"][0] == {"text": "Spare keys (house, car)", "checked": True}
    assert sections["escape_bag"][1]["checked"] is False
    assert sections["pets"] == []
    assert sections["safe_contacts"][0]["code_word"] == "blue kettle"
    # Untouched sections are exactly as they were (no line-ending or state drift).
    assert sections["documents"] == [
        {"text": t["text"], "checked": False} for t in sections["documents"]
    ]
    writes = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "safety_plan.write", AuditEvent.survivor_id == case.survivor.id
        )
    ).all()
    assert len(writes) == 1
    assert "The plan is saved." in html(browser.get(saved.headers["Location"]))


def test_a_save_meanwhile_shows_both_versions_and_the_merge_keeps_both(
    browser: Browser, advocate: Staff, clock: FrozenClock, case: Case, client: JsonClient
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    fields["notes-0-text"] = "Advocate: refuge call on Monday"
    fields["children-0-text"] = "Advocate wording for the children"
    # The survivor saves from the app after the advocate opened the form.
    theirs = survivor_saves(
        client,
        case,
        {
            "safe_places": [{"text": "Survivor: the flat of my sister"}],
            "children": [{"text": "Survivor wording for the children"}],
        },
    )
    conflict = browser.post(f"{case.base}/plan/edit", fields)
    assert conflict.status_code == 409
    body = html(conflict)
    for text in (
        "Advocate: refuge call on Monday",
        "Advocate wording for the children",
        "Survivor: the flat of my sister",
        "Survivor wording for the children",
    ):
        assert text in body
    assert "Changed by you and since" in body  # children: both changed
    # The stale ETag overwrote nothing.
    assert plan_now(client, case).json == theirs.json
    merged = form_fields(body, "plan-form")
    assert merged["etag"] == theirs.headers["ETag"]
    assert merged["notes-0-text"] == "Advocate: refuge call on Monday"  # only mine: mine
    assert merged["safe_places-0-text"] == "Survivor: the flat of my sister"  # only theirs
    assert merged["children-0-text"] == "Advocate wording for the children"  # both: mine
    # The advocate combines the children's section by hand, then saves.
    merged["children-2-text"] = "Survivor wording for the children"
    done = browser.post(f"{case.base}/plan/edit", merged)
    assert done.status_code == 303
    plan = plan_now(client, case).json
    assert plan["version"]["number"] == 3
    sections = plan["sections"]
    assert sections["notes"] == [{"text": "Advocate: refuge call on Monday"}]
    assert sections["safe_places"] == [{"text": "Survivor: the flat of my sister"}]
    texts = [i["text"] for i in sections["children"]]
    assert texts[0] == "Advocate wording for the children"
    assert "Survivor wording for the children" in texts


@pytest.mark.parametrize("etag", ["stale", '"nope"', "*", 'W/"{current}"', '"{other}"'])
def test_a_stale_or_forged_etag_never_overwrites(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    etag: str,
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    theirs = survivor_saves(client, case, {"notes": [{"text": "theirs"}]})
    current = theirs.json["version"]["id"]
    if etag != "stale":
        fields["etag"] = etag.format(current=current, other=uuid.uuid4())
    fields["notes-0-text"] = "mine"
    for _ in range(2):
        answer = browser.post(f"{case.base}/plan/edit", fields)
        assert answer.status_code == 409
        assert "mine" in html(answer)
    assert plan_now(client, case).json == theirs.json


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_the_csrf_token_changes_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    token: str | None,
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    fields.pop("csrf_token")
    fields["notes-0-text"] = "forged"
    etag = fields["etag"]
    posts = [
        (f"{case.base}/plan/edit", fields),
        (
            f"{case.base}/plan/recommendations",
            {"etag": etag, "recommendation_id": "safety-call-999"},
        ),
        (f"{case.base}/plan/versions/{etag.strip(chr(34))}/restore", {"etag": etag}),
    ]
    for path, form in posts:
        answer = browser.post(path, form, csrf=token)
        assert answer.status_code == 400, path
        assert answer.mimetype == "text/html"
    assert plan_now(client, case).json["version"]["number"] == 1


def test_another_advocates_survivor_is_a_404_on_every_plan_page(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
) -> None:
    other, _ = make_staff(db_session, runtime)
    survivor, token = make_survivor(db_session, runtime, other)
    db_session.commit()
    theirs = Case(survivor, auth_header(token))
    before = plan_now(client, theirs)
    version = before.json["version"]["id"]
    browser.sign_in(advocate, clock.now())
    base = theirs.base
    for path in (
        base,
        f"{base}/plan",
        f"{base}/plan/edit",
        f"{base}/plan/versions",
        f"{base}/plan/versions/{version}",
        f"{base}/plan/diff?old={version}&new={version}",
    ):
        answer = browser.get(path)
        assert answer.status_code == 404, path
        assert "Spare keys" not in html(answer)
    etag = before.headers["ETag"]
    for path, form in (
        (f"{base}/plan/edit", {"etag": etag, "notes-0-text": "x"}),
        (f"{base}/plan/recommendations", {"etag": etag, "recommendation_id": "safety-call-999"}),
        (f"{base}/plan/versions/{version}/restore", {"etag": etag}),
    ):
        assert browser.post(path, form).status_code == 404, path
    assert plan_now(client, theirs).json == before.json


def test_break_glass_reads_but_cannot_save_restore_or_add(
    browser: Browser,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    db_session: Session,
    runtime: Runtime,
) -> None:
    supervisor = make_member(db_session, runtime, role="supervisor")
    make_member(db_session, runtime, role="supervisor")  # someone to be told of the grant
    principal = StaffPrincipal(
        staff_id=supervisor.member.id,
        role="supervisor",
        session_id=uuid.uuid4(),
        second_factor_at=clock.now(),
    )
    open_break_glass(
        db_session,
        runtime.clock,
        runtime.vault,
        principal,
        case.survivor.id,
        "Duress alert overnight; the advocate is on leave.",
    )
    db_session.commit()
    before = plan_now(client, case)
    version, etag = before.json["version"]["id"], before.headers["ETag"]
    browser.sign_in(supervisor, clock.now())
    page = browser.get(f"{case.base}/plan")
    assert page.status_code == 200
    body = html(page)
    assert "read-only" in body
    assert "Spare keys" in body
    assert "/plan/edit" not in body
    assert "/plan/recommendations" not in body
    versions = html(browser.get(f"{case.base}/plan/versions"))
    assert "/restore" not in versions
    assert browser.get(f"{case.base}/plan/edit").status_code == 403
    for path, form in (
        (f"{case.base}/plan/edit", {"etag": etag, "notes-0-text": "x"}),
        (
            f"{case.base}/plan/recommendations",
            {"etag": etag, "recommendation_id": "wellbeing-support"},
        ),
        (f"{case.base}/plan/versions/{version}/restore", {"etag": etag}),
    ):
        assert browser.post(path, form).status_code == 404, path
    assert plan_now(client, case).json == before.json


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("nul \x00 inside", 400),
        ("bell \x07", 400),
        ("escape \x1b[2J", 400),
        ("x" * 1_048_576, 413),  # a 1 MiB section: over the body limit
        ("x" * 600, 422),  # over an item's 500 characters
    ],
)
def test_malformed_text_gets_a_4xx_page_and_changes_nothing(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    text: str,
    status: int,
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    fields["notes-0-text"] = text
    answer = browser.post(f"{case.base}/plan/edit", fields)
    assert answer.status_code == status
    assert answer.mimetype == "text/html"
    if status == 422:  # refused by the form: shown again, nothing typed is lost
        assert text in html(answer)
    assert plan_now(client, case).json["version"]["number"] == 1


def test_more_items_than_the_api_allows_and_a_lone_surrogate_are_refused(
    browser: Browser, advocate: Staff, clock: FrozenClock, case: Case, client: JsonClient
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    many = fields | {f"notes-{i}-text": f"item {i}" for i in range(61)}
    answer = browser.post(f"{case.base}/plan/edit", many)
    assert answer.status_code == 422
    assert "item 60" in html(answer)
    raw = f"csrf_token={browser.csrf}&etag=x&notes-0-text=%ED%A0%80".encode()
    answer = browser.client.post(
        f"{case.base}/plan/edit", data=raw, content_type="application/x-www-form-urlencoded"
    )
    assert 400 <= answer.status_code < 500
    assert plan_now(client, case).json["version"]["number"] == 1


def save_in_console(browser: Browser, case: Case, **texts: str) -> None:
    fields = edit_form(browser, case)
    fields.update(texts)
    assert browser.post(f"{case.base}/plan/edit", fields).status_code == 303


def test_versions_diff_and_restore(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    db_session: Session,
) -> None:
    browser.sign_in(advocate, clock.now())
    first = plan_now(client, case).json
    save_in_console(browser, case, **{"notes-0-text": "Meet at the first library"})
    save_in_console(
        browser, case, **{"notes-0-text": "Meet at the second library", "pets-0-text": ""}
    )
    versions = browser.get(f"{case.base}/plan/versions")
    body = html(versions)
    assert body.count('<th scope="row">') == 3
    assert body.count("<td>Advocate</td>") == 2
    assert "<td>Template</td>" in body
    assert "library" not in body  # who and when, no content
    ids = [
        v["id"] for v in client.get(PLAN_API + "/versions", headers=case.headers).json["versions"]
    ]
    # The chooser compares by id only: a GET whose address holds nothing but ids.
    chooser = form_fields(body, "diff-chooser")
    assert set(chooser) == {"old", "new"}
    assert (chooser["old"], chooser["new"]) == (ids[1], ids[0])
    diff = browser.get(f"{case.base}/plan/diff?old={ids[1]}&new={ids[0]}")
    assert diff.status_code == 200
    page = html(diff)
    assert '<span class="diff-word">first</span>' in page
    assert '<span class="diff-word">second</span>' in page
    assert "<del>" in page
    assert "<ins>" in page
    assert "Who could look after my pets" in page  # the removed item
    assert "No changes in: Safe contacts" in page
    assert " style=" not in page
    # Any two versions, in either order; the same one twice says so.
    assert browser.get(f"{case.base}/plan/diff?old={ids[0]}&new={ids[2]}").status_code == 200
    same = browser.get(f"{case.base}/plan/diff?old={ids[1]}&new={ids[1]}")
    assert "hold the same plan" in html(same)
    for query in ("", f"?old={ids[0]}", f"?old={ids[0]}&new={uuid.uuid4()}", "?old=x&new=y"):
        assert browser.get(f"{case.base}/plan/diff{query}").status_code == 400, query
    # One version, then restore the template's.
    one = browser.get(f"{case.base}/plan/versions/{ids[2]}")
    assert "Who could look after my pets" in html(one)
    restore = form_fields(html(one), "restore-form")
    done = browser.post(f"{case.base}/plan/versions/{ids[2]}/restore", restore)
    assert done.status_code == 303
    plan = plan_now(client, case).json
    assert plan["version"]["number"] == 4
    assert plan["version"]["restored_from"] == 1
    assert plan["sections"] == first["sections"]
    # The same form again is stale now: nothing more is restored.
    again = browser.post(f"{case.base}/plan/versions/{ids[1]}/restore", restore)
    assert again.status_code == 409
    assert "nothing was restored" in html(again)
    assert plan_now(client, case).json == plan
    reads = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.subject_kind == "safety_plan_version",
            AuditEvent.survivor_id == case.survivor.id,
        )
    ).all()
    assert {str(e.subject_id) for e in reads} >= {ids[0], ids[1], ids[2]}


def test_an_unknown_version_is_a_404_page(
    browser: Browser, advocate: Staff, clock: FrozenClock, case: Case, client: JsonClient
) -> None:
    browser.sign_in(advocate, clock.now())
    etag = plan_now(client, case).headers["ETag"]
    browser.get(f"{case.base}/plan")
    assert browser.get(f"{case.base}/plan/versions/{uuid.uuid4()}").status_code == 404
    answer = browser.post(f"{case.base}/plan/versions/{uuid.uuid4()}/restore", {"etag": etag})
    assert answer.status_code == 404
    assert plan_now(client, case).json["version"]["number"] == 1


def test_a_recommendation_is_added_with_the_apis_service(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
) -> None:
    browser.sign_in(advocate, clock.now())
    page = html(browser.get(f"{case.base}/plan"))
    offered = client.get("/v1/survivor/recommendations", headers=case.headers).json[
        "recommendations"
    ]
    assert offered
    for rec in offered:
        assert rec["text"] in page
    wanted = next(r for r in offered if r["id"] == "wellbeing-support")
    etag = plan_now(client, case).headers["ETag"]
    added = browser.post(
        f"{case.base}/plan/recommendations", {"etag": etag, "recommendation_id": wanted["id"]}
    )
    assert added.status_code == 303
    plan = plan_now(client, case).json
    assert plan["version"]["number"] == 2
    assert wanted["text"] in [i["text"] for i in plan["sections"][wanted["section"]]]
    after = html(browser.get(added.headers["Location"]))
    assert "The item is added to the plan." in after
    # The same page's ETag again is stale: the plan is shown as it is now, nothing added.
    stale = browser.post(
        f"{case.base}/plan/recommendations", {"etag": etag, "recommendation_id": "safety-call-999"}
    )
    assert stale.status_code == 409
    assert "nothing was added" in html(stale)
    assert plan_now(client, case).json == plan
    unknown = browser.post(
        f"{case.base}/plan/recommendations",
        {"etag": plan_now(client, case).headers["ETag"], "recommendation_id": "no-such-thing"},
    )
    assert unknown.status_code == 422
    assert plan_now(client, case).json == plan


def test_a_plan_not_shared_is_said_plainly_and_leaves_no_read_in_the_log(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    db_session: Session,
) -> None:
    etag = plan_now(client, case).headers["ETag"]
    version = etag.strip('"')
    unshared = client.patch(
        "/v1/survivor/advocate-sharing", json={"plan_shared": False}, headers=case.headers
    )
    assert unshared.status_code == 200
    browser.sign_in(advocate, clock.now())
    for path in ("/plan", "/plan/edit", "/plan/versions", f"/plan/versions/{version}"):
        answer = browser.get(case.base + path)
        assert answer.status_code == 403, path
        assert "has not shared their safety plan with you" in html(answer)
        assert "Spare keys" not in html(answer)
    for path, form in (
        ("/plan/edit", {"etag": etag, "notes-0-text": "x"}),
        ("/plan/recommendations", {"etag": etag, "recommendation_id": "safety-call-999"}),
        (f"/plan/versions/{version}/restore", {"etag": etag}),
    ):
        answer = browser.post(case.base + path, form)
        assert answer.status_code == 403, path
        assert "has not shared" in html(answer)
    reads = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action.in_(["safety_plan.read", "safety_plan.write"]),
            AuditEvent.survivor_id == case.survivor.id,
            AuditEvent.actor_kind == "staff",
        )
    ).all()
    assert reads == []
    assert plan_now(client, case).json["version"]["number"] == 1


def test_the_apis_refusal_of_a_plan_not_shared_is_unchanged(
    client: JsonClient, db_session: Session, runtime: Runtime
) -> None:
    """``NotShared`` is a ``NotFound``: on /v1 it is the same answer as a survivor who is not
    there at all, so probing ids still cannot tell the sharing switch from a missing record."""
    advocate, token = make_staff(db_session, runtime)
    survivor, survivor_token = make_survivor(db_session, runtime, advocate)
    db_session.commit()
    client.patch(
        "/v1/survivor/advocate-sharing",
        json={"plan_shared": False},
        headers=auth_header(survivor_token),
    )

    def refusal(survivor_id: object) -> dict[str, Any]:
        answer = client.get(
            f"/v1/staff/survivors/{survivor_id}/safety-plan", headers=auth_header(token)
        )
        assert answer.status_code == 404
        body: dict[str, Any] = answer.json
        return {k: v for k, v in body.items() if k not in ("instance", "request_id")}

    assert refusal(survivor.id) == refusal(uuid.uuid4())


def test_too_many_saves_keep_the_text_typed(
    browser: Browser,
    advocate: Staff,
    clock: FrozenClock,
    case: Case,
    client: JsonClient,
    runtime: Runtime,
) -> None:
    browser.sign_in(advocate, clock.now())
    for n in range(runtime.settings.plan_saves_per_minute):
        save_in_console(browser, case, **{"notes-0-text": f"note {n}"})
    fields = edit_form(browser, case)
    fields["notes-0-text"] = "the one that waits"
    answer = browser.post(f"{case.base}/plan/edit", fields)
    assert answer.status_code == 429
    assert "Retry-After" in answer.headers
    assert "the one that waits" in form_fields(html(answer), "plan-form")["notes-0-text"]
    clock.advance(seconds=61)
    assert browser.post(f"{case.base}/plan/edit", fields).status_code == 303
    assert plan_now(client, case).json["sections"]["notes"] == [{"text": "the one that waits"}]


def test_a_plan_over_the_size_limit_is_refused_with_the_text_kept(
    browser: Browser, advocate: Staff, clock: FrozenClock, case: Case, client: JsonClient
) -> None:
    browser.sign_in(advocate, clock.now())
    fields = edit_form(browser, case)
    long = "y" * 500
    for section, count in (("notes", 60), ("wellbeing", 60), ("pets", 20)):
        fields |= {f"{section}-{i}-text": f"{i:03} {long[4:]}" for i in range(count)}
    answer = browser.post(f"{case.base}/plan/edit", fields)
    assert answer.status_code == 413
    kept = form_fields(html(answer), "plan-form")
    assert kept["wellbeing-59-text"] == fields["wellbeing-59-text"]
    assert plan_now(client, case).json["version"]["number"] == 1


def test_two_advocates_saving_from_one_etag_at_once_one_wins(
    committed_db: str, tmp_path: Path, keyring: KeyRing, fast_hasher: SecretHasher
) -> None:
    """Real connections and real commits (on PostgreSQL when it is configured): two console
    saves based on the same version, sent together; one is saved, the other sees the merge."""
    runtime = build_runtime(
        make_settings(tmp_path, committed_db, keyring),
        clock=FrozenClock(),
        engine=make_engine(committed_db),
        keyring=keyring,
        hasher=fast_hasher,
    )
    app = create_app(runtime.settings, runtime=runtime)
    try:
        with runtime.session_factory() as s:
            staff = [make_member(s, runtime), make_member(s, runtime)]
            survivor, _ = make_survivor(s, runtime, staff[0].member)
            s.add(
                CaseloadEntry(
                    id=uuid.uuid4(),
                    survivor_id=survivor.id,
                    staff_id=staff[1].member.id,
                    assigned_by=staff[0].member.id,
                    assigned_at=runtime.clock.now(),
                )
            )
            s.commit()
        case = Case(survivor, {})
        browsers = [Browser(app), Browser(app)]
        forms = []
        for browser, member in zip(browsers, staff, strict=True):
            browser.sign_in(member, runtime.clock.now())
            forms.append(edit_form(browser, case))
        assert forms[0]["etag"] == forms[1]["etag"]
        together = threading.Barrier(2)
        answers: dict[int, int] = {}

        def save(i: int) -> None:
            together.wait(10)
            form = forms[i] | {"notes-0-text": f"writer {i}"}
            answers[i] = browsers[i].post(f"{case.base}/plan/edit", form).status_code

        threads = [threading.Thread(target=save, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(answers.values()) == [303, 409]
        winner = next(i for i, status in answers.items() if status == 303)
        with runtime.session_factory() as s:
            own = SurvivorAccess(
                survivor.id, "self", SurvivorPrincipal(survivor.id, uuid.uuid4(), False)
            )
            deps = SafetyPlansDeps.from_settings(runtime.settings, runtime.vault)
            plan = plans.get_plan(s, own, runtime.clock, deps)
            assert plan.version.number == 2
            assert plan.sections["notes"] == [{"text": f"writer {winner}"}]
            assert len(plans.list_versions(s, own, runtime.clock, deps)) == 2
    finally:
        runtime.engine.dispose()
