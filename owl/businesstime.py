"""Business-hours and wall clocks.

A :class:`BusinessCalendar` knows a contract's opening hours ("horaires d'ouverture") in its
timezone and the public holidays that close them. It adds business time to an instant and measures
the business time between two instants. Every instant in and out is an aware UTC datetime; local
time only exists inside, one calendar day at a time, so DST changes fall out of the conversion.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import holidays as holidays_lib

UTC = dt.timezone.utc
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
# A calendar with opening hours finds one within a couple of weeks, even across a run of
# holidays; this bound only stops a search on a calendar whose days are all holidays.
_MAX_DAYS_SEARCHED = 3 * 366

Ranges = tuple[tuple[int, int], ...]  # (start, end) in minutes since local midnight, end <= 1440


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        part = part.strip().lower()
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise ValueError(f"hours: {spec!r} is not a day or day range such as "
                             "'mon-fri', 'sat' or 'mon,wed'")
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise ValueError(f"hours: day range {part!r} runs backwards")
        days.extend(range(start, end + 1))
    return days


def _ranges(spec: str, day_spec: str) -> list[tuple[int, int]]:
    ranges = []
    for part in spec.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise ValueError(f"hours.{day_spec}: {part.strip()!r} is not a range such as "
                             "'09:00-18:00'")
        h1, m1, h2, m2 = map(int, match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 1440 or end <= start:
            raise ValueError(f"hours.{day_spec}: {part.strip()!r} must run forwards within "
                             "one day, 00:00 to 24:00")
        ranges.append((start, end))
    return ranges


def parse_weekly_hours(spec: dict[str, str]) -> dict[int, Ranges]:
    """``{"mon-fri": "09:00-12:00,14:00-18:00", "sat": "09:00-12:00"}`` → ranges per weekday."""
    weekly: dict[int, list[tuple[int, int]]] = {}
    for day_spec, range_spec in spec.items():
        if not isinstance(range_spec, str):
            raise ValueError(f"hours.{day_spec}: expected ranges such as '09:00-18:00'")
        for day in _days(day_spec):
            weekly.setdefault(day, []).extend(_ranges(range_spec, day_spec))
    for day, ranges in weekly.items():
        ranges.sort()
        for (_, end), (start, _) in zip(ranges, ranges[1:]):
            if start < end:
                raise ValueError(f"hours: ranges overlap on {WEEKDAYS[day]}")
    if not any(weekly.values()):
        raise ValueError("hours: at least one opening range is needed")
    return {day: tuple(ranges) for day, ranges in weekly.items()}


class WallClock:
    """Elapsed real time: 4 h is 4 h, across DST changes and nights alike."""

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        return (start + duration).astimezone(UTC)

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        return max(end - start, dt.timedelta(0))


class BusinessCalendar:
    """Opening hours in a timezone, closed on public holidays."""

    def __init__(self, weekly: dict[int, Ranges], timezone: str,
                 country: str = "FR", subdivision: str | None = None):
        self.weekly = weekly
        self.tz = ZoneInfo(timezone)
        self.timezone = timezone
        self.country = country
        self.subdivision = subdivision
        self._holidays = holidays_lib.country_holidays(country, subdiv=subdivision)
        self._days: dict[dt.date, tuple[tuple[dt.datetime, dt.datetime], ...]] = {}

    @classmethod
    def from_spec(cls, hours: dict[str, str], timezone: str, country: str = "FR",
                  subdivision: str | None = None) -> BusinessCalendar:
        return cls(parse_weekly_hours(hours), timezone, country, subdivision)

    def is_holiday(self, day: dt.date) -> bool:
        return day in self._holidays

    def holiday_name(self, day: dt.date) -> str | None:
        return self._holidays.get(day)

    def holidays_in(self, year: int) -> list[dt.date]:
        return sorted(holidays_lib.country_holidays(self.country, subdiv=self.subdivision,
                                                    years=year))

    def is_working_day(self, day: dt.date) -> bool:
        """A "jour ouvré": Monday to Friday, not a public holiday."""
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The ``count``-th working day after ``day``."""
        while count > 0:
            day += dt.timedelta(days=1)
            count -= self.is_working_day(day)
        return day

    def open_intervals(self, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """The UTC intervals during which the calendar is open on local date ``day``."""
        intervals = self._days.get(day)
        if intervals is None:
            intervals = () if self.is_holiday(day) else tuple(
                (self._utc(day, start), self._utc(day, end))
                for start, end in self.weekly.get(day.weekday(), ()))
            self._days[day] = intervals
        return intervals

    def _utc(self, day: dt.date, minutes: int) -> dt.datetime:
        if minutes == 1440:  # 24:00 is the next local midnight, whatever DST did that day
            day, minutes = day + dt.timedelta(days=1), 0
        local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), self.tz)
        return local.astimezone(UTC)

    def _intervals_from(self, start: dt.datetime):
        day = start.astimezone(self.tz).date() - dt.timedelta(days=1)
        for _ in range(_MAX_DAYS_SEARCHED):
            for open_at, close_at in self.open_intervals(day):
                if close_at > start:
                    yield max(open_at, start), close_at
            day += dt.timedelta(days=1)
        raise ValueError("the calendar has no opening hours in the next three years")

    def is_open(self, at: dt.datetime) -> bool:
        day = at.astimezone(self.tz).date()
        return any(a <= at < b for a, b in self.open_intervals(day))

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant at which ``duration`` of business time has passed since ``start``.

        A deadline that falls exactly at closing time stays there, not at the next opening.
        """
        remaining = duration
        for open_at, close_at in self._intervals_from(start.astimezone(UTC)):
            if remaining <= close_at - open_at:
                return open_at + remaining
            remaining -= close_at - open_at
        raise AssertionError("unreachable")

    def between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time inside [start, end)."""
        total = dt.timedelta(0)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return total
        for open_at, close_at in self._intervals_from(start):
            if open_at >= end:
                break
            total += min(close_at, end) - open_at
        return total
