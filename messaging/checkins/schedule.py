"""When check-ins fall due: recurring schedules in the survivor's own time zone, and quiet
windows in which no SMS may be sent.

All arithmetic is done on local wall-clock times and converted to UTC at the end, so a
check-in set for 19:00 stays at 19:00 across daylight-saving changes. A local time that does
not exist (the spring-forward gap) moves to the first minute after the gap; a local time that
happens twice (fall-back) is taken the first time, so the survivor is never checked on late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            "unknown time zone", errors={"timezone": ["Not an IANA time zone."]}
        ) from None


def localize(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz`` (gaps move forward)."""
    naive = dt.datetime.combine(day, at.replace(tzinfo=None))
    first = naive.replace(tzinfo=tz, fold=0)
    # A wall time inside a spring-forward gap does not survive a round trip through UTC.
    round_trip = first.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        # Move to the end of the gap: the first valid local time after it.
        probe = first.astimezone(dt.UTC)
        return _end_of_gap(probe, tz)
    return first.astimezone(dt.UTC)


def _end_of_gap(instant: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    # ``instant`` is the UTC reading zoneinfo gives a non-existent wall time (fold=0 uses the
    # offset before the transition, which lands after the gap). Step back minute by minute to
    # the transition itself, so the check-in happens at the first valid minute after the gap.
    offset_after = instant.astimezone(tz).utcoffset()
    candidate = instant
    for _ in range(24 * 60):
        earlier = candidate - dt.timedelta(minutes=1)
        if earlier.astimezone(tz).utcoffset() != offset_after:
            return candidate
        candidate = earlier
    return instant


@dataclass(frozen=True, slots=True)
class Recurrence:
    """Days of the week and a local time, in an IANA time zone."""

    days: frozenset[int]  # 0 = Monday
    at: dt.time
    timezone: str

    @classmethod
    def parse(cls, days: Sequence[str], at: str, timezone: str) -> Recurrence:
        try:
            day_numbers = frozenset(WEEKDAYS.index(d.lower()) for d in days)
        except ValueError:
            raise InvalidInput(
                "unknown weekday", errors={"days": [f"Use {', '.join(WEEKDAYS)}."]}
            ) from None
        if not day_numbers:
            raise InvalidInput("no days", errors={"days": ["Choose at least one day."]})
        try:
            local_time = dt.time.fromisoformat(at)
        except ValueError:
            raise InvalidInput("bad time", errors={"at": ["Use HH:MM, 24-hour."]}) from None
        zone(timezone)
        return cls(day_numbers, local_time.replace(second=0, microsecond=0), timezone)

    def occurrences(self, after: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
        """UTC instants strictly after ``after`` and at or before ``until``."""
        tz = zone(self.timezone)
        day = after.astimezone(tz).date() - dt.timedelta(days=1)
        last_day = until.astimezone(tz).date() + dt.timedelta(days=1)
        while day <= last_day:
            if day.weekday() in self.days:
                when = localize(day, self.at, tz)
                if after < when <= until:
                    yield when
            day += dt.timedelta(days=1)


class QuietWindowSpec(TypedDict):
    """A quiet window as the survivor gives it, and as it is stored (sealed) and shown back:
    ``{"days": ["mon", ...], "start": "22:00", "end": "07:00"}``."""

    days: list[str]
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """A local-time span (may cross midnight) on some days when no SMS may be sent."""

    days: frozenset[int]  # the day the window starts on
    start: dt.time
    end: dt.time

    def spans(self, around: dt.datetime, tz: ZoneInfo) -> Iterable[tuple[dt.datetime, dt.datetime]]:
        local_day = around.astimezone(tz).date()
        for offset in (-1, 0):
            day = local_day + dt.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            begin = localize(day, self.start, tz)
            end_day = day if self.end > self.start else day + dt.timedelta(days=1)
            yield begin, localize(end_day, self.end, tz)


def quiet_until(
    when: dt.datetime, windows: Sequence[QuietWindow], timezone: str
) -> dt.datetime | None:
    """If ``when`` falls inside a quiet window, the instant the (last overlapping) window ends."""
    tz = zone(timezone)
    end: dt.datetime | None = None
    moved = True
    probe = when
    # Windows may chain (one ends as another begins): follow them until none applies.
    for _ in range(len(windows) * 2 + 1):
        if not moved:
            break
        moved = False
        for window in windows:
            for begin, finish in window.spans(probe, tz):
                if begin <= probe < finish:
                    probe, end, moved = finish, finish, True
    return end
