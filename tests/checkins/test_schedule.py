from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from messaging.checkins import states
from messaging.checkins.schedule import QuietWindow, Recurrence, localize, quiet_until

UTC = dt.UTC
LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")


def _local(instants: list[dt.datetime], tz: ZoneInfo) -> list[str]:
    return [i.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") for i in instants]


def test_daily_19_00_stays_19_00_across_london_spring_forward() -> None:
    rec = Recurrence.parse(
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "19:00", "Europe/London"
    )
    got = list(
        rec.occurrences(dt.datetime(2026, 3, 27, tzinfo=UTC), dt.datetime(2026, 3, 31, tzinfo=UTC))
    )
    assert _local(got, LONDON) == [
        "2026-03-27 19:00 GMT",
        "2026-03-28 19:00 GMT",
        "2026-03-29 19:00 BST",
        "2026-03-30 19:00 BST",
    ]
    # In UTC the hour moves, which is the point.
    assert [g.hour for g in got] == [19, 19, 18, 18]


def test_chicago_fall_back_ambiguous_time_is_taken_the_first_time() -> None:
    # 2026-11-01 01:30 happens twice in Chicago (CDT then CST).
    rec = Recurrence.parse(["sun"], "01:30", "America/Chicago")
    got = list(
        rec.occurrences(dt.datetime(2026, 10, 31, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC))
    )
    assert len(got) == 1
    assert got[0] == dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 CDT (UTC-5)


def test_chicago_spring_gap_moves_to_first_minute_after() -> None:
    # 2026-03-08 02:30 does not exist in Chicago (02:00 -> 03:00).
    when = localize(dt.date(2026, 3, 8), dt.time(2, 30), CHICAGO)
    assert when.astimezone(CHICAGO).strftime("%H:%M %Z") == "03:00 CDT"


def test_london_spring_gap_moves_to_first_minute_after() -> None:
    when = localize(dt.date(2026, 3, 29), dt.time(1, 30), LONDON)
    assert when.astimezone(LONDON).strftime("%H:%M %Z") == "02:00 BST"


def test_weekday_filter_and_bounds_are_exclusive_inclusive() -> None:
    rec = Recurrence.parse(["mon", "thu"], "08:15", "Europe/London")
    start = dt.datetime(2026, 6, 1, 7, 15, tzinfo=UTC)  # Monday 08:15 BST exactly
    got = list(rec.occurrences(start, start + dt.timedelta(days=7)))
    assert _local(got, LONDON) == ["2026-06-04 08:15 BST", "2026-06-08 08:15 BST"]


@pytest.mark.parametrize(
    ("days", "at", "tz"),
    [
        ([], "10:00", "UTC"),
        (["funday"], "10:00", "UTC"),
        (["mon"], "25:00", "UTC"),
        (["mon"], "10:00", "Mars/Base"),
    ],
)
def test_bad_recurrence_is_invalid_input(days: list[str], at: str, tz: str) -> None:
    with pytest.raises(InvalidInput):
        Recurrence.parse(days, at, tz)


def test_quiet_window_crossing_midnight_defers_to_its_end() -> None:
    every_day = frozenset(range(7))
    window = QuietWindow(every_day, dt.time(22, 0), dt.time(7, 0))
    inside = dt.datetime(2026, 7, 1, 23, 30, tzinfo=LONDON).astimezone(UTC)
    assert quiet_until(inside, [window], "Europe/London") == dt.datetime(
        2026, 7, 2, 7, 0, tzinfo=LONDON
    ).astimezone(UTC)
    early = dt.datetime(2026, 7, 2, 6, 0, tzinfo=LONDON).astimezone(UTC)
    assert quiet_until(early, [window], "Europe/London") == dt.datetime(
        2026, 7, 2, 7, 0, tzinfo=LONDON
    ).astimezone(UTC)
    outside = dt.datetime(2026, 7, 2, 12, 0, tzinfo=LONDON).astimezone(UTC)
    assert quiet_until(outside, [window], "Europe/London") is None


def test_chained_quiet_windows_are_followed() -> None:
    days = frozenset(range(7))
    windows = [
        QuietWindow(days, dt.time(18, 0), dt.time(20, 0)),
        QuietWindow(days, dt.time(20, 0), dt.time(21, 30)),
    ]
    when = dt.datetime(2026, 7, 1, 19, 0, tzinfo=LONDON).astimezone(UTC)
    assert quiet_until(when, windows, "Europe/London") == dt.datetime(
        2026, 7, 1, 21, 30, tzinfo=LONDON
    ).astimezone(UTC)


@given(st.lists(st.sampled_from(states.STATES), max_size=12))
def test_state_machine_is_forward_only_and_idempotent(path: list[str]) -> None:
    order = {s: i for i, s in enumerate(states.STATES)}
    current = states.SCHEDULED
    for wanted in path:
        try:
            moved = states.next_state(current, wanted)
        except states.IllegalTransition:
            continue
        if moved is None:
            assert wanted == current
            continue
        # Never back to an earlier stage of the life cycle.
        assert order[moved] > order[current] or current == states.SCHEDULED
        current = moved
    assert states.next_state(current, current) is None
