"""The scoring engine and the shipped instruments, at every boundary that matters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigurationError, InvalidInput
from safety_plans.instruments import Answer, Instrument, evaluate, load_catalogue, load_instrument

TESTS_DIR = Path(__file__).resolve().parent / "instruments"


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Instrument]:
    return load_catalogue()


def dash_answers(yes: int, incidents: int | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {f"q{i}": "yes" if i <= yes else "no" for i in range(1, 25)}
    if incidents is not None:
        answers["incidents_12_months"] = incidents
    return answers


def lap_answers(*yes: int) -> dict[str, Any]:
    return {f"q{i}": "yes" if i in yes else "no" for i in range(1, 12)}


def test_shipped_instruments_load_and_cite_their_source(catalogue: dict[str, Instrument]) -> None:
    assert set(catalogue) == {"dash", "lethality_screen"}
    dash, lap = catalogue["dash"], catalogue["lethality_screen"]
    assert len([i for i in dash.items if i["counts"]]) == 24
    assert len(lap.items) == 11
    for instrument in (dash, lap):
        assert instrument.spec["source_url"].startswith("https://")
        assert "licence" in instrument.spec["licence_note"].lower()
    assert "danger_assessment" not in catalogue


def test_dash_13_yes_is_not_high_and_14_is(catalogue: dict[str, Instrument]) -> None:
    dash = catalogue["dash"]
    r13 = evaluate(dash, dash_answers(13))
    assert (r13.score, r13.band, r13.highest_band, r13.referral) == (13, "medium", False, False)
    assert "marac_visible_high_risk" not in r13.fired
    r14 = evaluate(dash, dash_answers(14))
    assert (r14.score, r14.band, r14.highest_band, r14.referral) == (14, "high", True, True)
    assert "marac_visible_high_risk" in r14.fired
    assert evaluate(dash, dash_answers(9)).band == "standard"
    assert evaluate(dash, dash_answers(10)).band == "medium"


def test_dash_unknown_answers_do_not_count(catalogue: dict[str, Instrument]) -> None:
    answers = dash_answers(14)
    answers["q14"] = "unknown"
    assert evaluate(catalogue["dash"], answers).score == 13


def test_professional_judgement_raises_never_lowers(catalogue: dict[str, Instrument]) -> None:
    dash = catalogue["dash"]
    raised = evaluate(dash, dash_answers(5), judgement_band="high")
    assert (raised.computed_band, raised.band, raised.raised_by_judgement) == (
        "standard",
        "high",
        True,
    )
    assert raised.highest_band
    assert raised.referral
    kept = evaluate(dash, dash_answers(16), judgement_band="standard")
    assert (kept.band, kept.raised_by_judgement) == ("high", False)
    with pytest.raises(InvalidInput):
        evaluate(dash, dash_answers(5), judgement_band="catastrophic")


def test_dash_escalation_rule(catalogue: dict[str, Instrument]) -> None:
    dash = catalogue["dash"]
    two = evaluate(dash, dash_answers(4, incidents=2))
    assert "potential_escalation" not in two.fired
    assert not two.referral
    three = evaluate(dash, dash_answers(4, incidents=3))
    assert "potential_escalation" in three.fired
    assert three.referral, "three incidents in 12 months is a MARAC criterion"
    assert three.band == "standard", "the count is not a checklist answer"
    assert three.score == 4


def test_lethality_screen_boundaries(catalogue: dict[str, Instrument]) -> None:
    lap = catalogue["lethality_screen"]
    assert evaluate(lap, lap_answers()).band == "not_screened_in"
    for q in (1, 2, 3):
        result = evaluate(lap, lap_answers(q))
        assert result.band == "high_danger"
        assert result.fired == ("protocol_q1_q3",)
    three = evaluate(lap, lap_answers(4, 5, 6))
    assert three.band == "not_screened_in"
    assert not three.referral
    four = evaluate(lap, lap_answers(8, 9, 10, 11))
    assert four.band == "high_danger"
    assert four.fired == ("protocol_q4_q11",)
    # The practitioner's belief triggers the protocol whatever the answers.
    believed = evaluate(lap, lap_answers(4), judgement_band="high_danger")
    assert believed.band == "high_danger"
    assert believed.raised_by_judgement


def test_weighted_instrument_from_a_file() -> None:
    weighted = load_instrument(TESTS_DIR / "weighted_test.json")
    base: dict[str, Answer] = {
        "w4": "no",
        "w3a": "no",
        "w3b": "no",
        "w2": "no",
        "w1a": "no",
        "w1b": "no",
        "w1c": "no",
        "times": 0,
        "w_neg": "no",
    }
    assert evaluate(weighted, base).band == "variable"
    seven = base | {"w4": "yes", "w3a": "yes"}
    assert (evaluate(weighted, seven).score, evaluate(weighted, seven).band) == (7, "variable")
    eight = seven | {"w1a": "yes"}
    assert (evaluate(weighted, eight).score, evaluate(weighted, eight).band) == (8, "increased")
    fourteen = base | {
        "w4": "yes",
        "w3a": "yes",
        "w3b": "yes",
        "w2": "yes",
        "w1a": "yes",
        "w_neg": "yes",
    }
    assert evaluate(weighted, fourteen).score == 13
    assert evaluate(weighted, fourteen | {"w1b": "yes"}).band == "severe"
    extreme = evaluate(weighted, base | {"w4": "yes", "times": 7})
    assert (extreme.score, extreme.band, extreme.highest_band) == (18, "extreme", True)


def test_answers_are_checked(catalogue: dict[str, Instrument]) -> None:
    dash = catalogue["dash"]
    bad = dash_answers(3) | {"q1": "maybe", "q99": "yes"}
    del bad["q2"]
    with pytest.raises(InvalidInput) as info:
        evaluate(dash, bad)
    errors = info.value.extra["errors"]["answers"]
    assert set(errors) == {"q1", "q2", "q99"}
    with pytest.raises(InvalidInput):
        evaluate(dash, dash_answers(3, incidents=-1))
    with pytest.raises(InvalidInput):
        evaluate(dash, dash_answers(3) | {"incidents_12_months": True})


@pytest.mark.parametrize(
    "breakage",
    [
        lambda s: s["items"].append(dict(s["items"][0])),  # duplicate item id
        lambda s: s["bands"].reverse(),  # bands out of order
        lambda s: s["triggers"].append(
            {"id": "x", "description": "x", "rule": {"kind": "any_yes", "items": ["nope"]}}
        ),
        lambda s: s["items"][0].update(answer_type="free_text"),
        lambda s: s.update(source_url="not a url"),
        lambda s: s.update(surprise=True),
    ],
)
def test_invalid_instrument_files_are_refused_at_load(tmp_path: Path, breakage: Any) -> None:
    spec = json.loads((TESTS_DIR / "weighted_test.json").read_text())
    spec["triggers"] = [
        {"id": "t", "description": "t", "rule": {"kind": "any_yes", "items": ["w4"]}}
    ]
    breakage(spec)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(ConfigurationError, match=r"broken\.json"):
        load_instrument(path)


def test_extra_directory_adds_instruments_and_ids_must_be_unique(tmp_path: Path) -> None:
    assert "weighted_test" in load_catalogue([TESTS_DIR])
    (tmp_path / "dup.json").write_text(
        (Path(__file__).resolve().parents[2] / "safety_plans/instruments/dash.json").read_text()
    )
    with pytest.raises(ConfigurationError, match="defined twice"):
        load_catalogue([tmp_path])
