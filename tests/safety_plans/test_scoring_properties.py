"""Properties of the scoring engine over every kind of answer set (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from safety_plans.instruments import evaluate, load_catalogue

CATALOGUE = load_catalogue()
DASH, LAP = CATALOGUE["dash"], CATALOGUE["lethality_screen"]
ANSWER = st.sampled_from(["yes", "no", "unknown"])


@settings(max_examples=300, deadline=None)
@given(
    answers=st.lists(ANSWER, min_size=24, max_size=24),
    incidents=st.one_of(st.none(), st.integers(0, 20)),
    judgement=st.one_of(st.none(), st.sampled_from(["standard", "medium", "high"])),
)
def test_dash_is_the_published_rule(
    answers: list[str], incidents: int | None, judgement: str | None
) -> None:
    given_answers: dict[str, str | int] = {f"q{i + 1}": a for i, a in enumerate(answers)}
    if incidents is not None:
        given_answers["incidents_12_months"] = incidents
    result = evaluate(DASH, given_answers, judgement)
    yes = answers.count("yes")
    assert result.score == yes
    by_count = "high" if yes >= 14 else "medium" if yes >= 10 else "standard"
    assert result.computed_band == by_count
    order = ["standard", "medium", "high"]
    expected = max(by_count, judgement or "standard", key=order.index)
    assert result.band == expected, "judgement raises, never lowers"
    escalation = incidents is not None and incidents >= 3
    assert ("potential_escalation" in result.fired) == escalation
    assert result.referral == (expected == "high" or escalation)


@settings(max_examples=300, deadline=None)
@given(
    answers=st.lists(ANSWER, min_size=11, max_size=11),
    believed=st.booleans(),
)
def test_lethality_screen_is_the_published_rule(answers: list[str], believed: bool) -> None:
    given_answers = {f"q{i + 1}": a for i, a in enumerate(answers)}
    result = evaluate(LAP, given_answers, "high_danger" if believed else None)
    screened_in = "yes" in answers[:3] or answers[3:].count("yes") >= 4
    assert (result.computed_band == "high_danger") == screened_in
    assert (result.band == "high_danger") == (screened_in or believed)
    assert result.referral == (screened_in or believed)
