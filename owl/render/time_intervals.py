"""Opening hours and public holidays as Alertmanager ``time_intervals``.

Alertmanager (0.25) knows weekdays, times of day and a ``location`` (an IANA timezone), but no
holiday calendar. The holidays are therefore written out as explicit dates, one entry per holiday,
taken from the ``holidays`` library for the years the render covers (this year and the next): a
route is *active* during ``business-hours[-<client>]`` and *muted* during
``public-holidays[-<client>]``. Re-render before the last year runs out; the generated rule
``owl:generated_calendar_end:timestamp_seconds`` (owl.render.generated_rules) makes Prometheus say
so in time (alert ``OwlCalendarEndingSoon``).

Clients share a calendar when their opening hours, timezone and holiday country and subdivision
are the same; the provider's calendar (``provider.calendar``) has the plain names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import holidays as holidays_lib

from owl.businesstime import WEEKDAYS, parse_weekly_hours
from owl.inventory import Calendar, Client, Inventory

BUSINESS_HOURS = "business-hours"
PUBLIC_HOLIDAYS = "public-holidays"
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")

# (country, subdivision, years) -> the public holidays of those years
HolidaySource = Callable[[str, "str | None", list[int]], list[dt.date]]


def public_holidays(country: str, subdivision: str | None, years: list[int]) -> list[dt.date]:
    """The public holidays of ``years`` from the ``holidays`` library, in date order."""
    return sorted(holidays_lib.country_holidays(country, subdiv=subdivision, years=years))


@dataclass(frozen=True)
class CalendarKey:
    """What makes two calendars the same for Alertmanager."""

    hours: tuple[tuple[str, str], ...]
    timezone: str
    country: str
    subdivision: str | None

    @classmethod
    def of(cls, calendar: Calendar, default_timezone: str) -> CalendarKey:
        return cls(tuple(sorted(calendar.hours.items())), calendar.timezone or default_timezone,
                   calendar.holidays.country, calendar.holidays.subdivision)


@dataclass
class CalendarGroup:
    """Clients whose contracts follow the same opening hours. ``suffix`` is ``""`` for the
    provider's calendar (which also serves unknown clients and provider-internal alerts)."""

    key: CalendarKey
    suffix: str
    clients: list[str] = field(default_factory=list)

    @property
    def business_hours(self) -> str:
        return BUSINESS_HOURS + self.suffix

    @property
    def public_holidays(self) -> str:
        return PUBLIC_HOLIDAYS + self.suffix

    @property
    def is_provider_calendar(self) -> bool:
        return self.suffix == ""


def calendar_groups(inventory: Inventory, clients: Iterable[Client]) -> list[CalendarGroup]:
    """The provider's calendar group last, after one group per other distinct client calendar
    (named after its first client, in inventory order)."""
    provider_tz = inventory.provider.timezone
    provider = CalendarGroup(CalendarKey.of(inventory.provider.calendar, provider_tz), "")
    others: dict[CalendarKey, CalendarGroup] = {}
    for client in clients:
        key = CalendarKey.of(inventory.calendar_for(client), provider_tz)
        if key == provider.key:
            provider.clients.append(client.id)
            continue
        group = others.setdefault(key, CalendarGroup(key, f"-{client.id}"))
        group.clients.append(client.id)
    return [*others.values(), provider]


def time_intervals(groups: list[CalendarGroup], years: list[int],
                   holidays: HolidaySource = public_holidays) -> list[dict]:
    """``business-hours*`` and ``public-holidays*`` of every calendar group."""
    intervals = []
    for group in groups:
        intervals.append({"name": group.business_hours,
                          "time_intervals": opening_hours(dict(group.key.hours),
                                                          group.key.timezone)})
        intervals.append({"name": group.public_holidays,
                          "time_intervals": holiday_dates(
                              holidays(group.key.country, group.key.subdivision, years),
                              group.key.timezone)})
    return intervals


def opening_hours(hours: dict[str, str], timezone: str) -> list[dict]:
    """One entry per set of weekdays sharing the same ranges, in ``timezone``."""
    weekly = parse_weekly_hours(hours)
    days_by_ranges: dict[tuple, list[int]] = {}
    for day in range(len(WEEKDAYS)):
        if weekly.get(day):
            days_by_ranges.setdefault(weekly[day], []).append(day)
    return [{"weekdays": weekday_runs(days),
             "times": [{"start_time": _clock(start), "end_time": _clock(end)}
                       for start, end in ranges],
             "location": timezone}
            for ranges, days in days_by_ranges.items()]


def weekday_runs(days: list[int]) -> list[str]:
    """Days (0 is Monday, as in :mod:`owl.businesstime`) as Alertmanager weekday ranges.

    Alertmanager's week starts on Sunday and a range cannot wrap around it: Monday to Sunday is
    ``sunday:saturday``, Saturday and Sunday are ``sunday`` and ``saturday``.
    ``[0, 1, 2, 3, 4]`` -> ``["monday:friday"]``.
    """
    sunday_first = sorted((day + 1) % 7 for day in days)
    runs: list[list[int]] = []
    for day in sunday_first:
        if runs and runs[-1][1] == day - 1:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    names = [WEEKDAY_NAMES[(day - 1) % 7] for day in range(7)]  # sunday, monday, ...
    return [names[first] if first == last else f"{names[first]}:{names[last]}"
            for first, last in runs]


def holiday_dates(dates: list[dt.date], timezone: str) -> list[dict]:
    """One entry per date: that whole local day, in ``timezone``."""
    return [{"years": [str(day.year)], "months": [MONTH_NAMES[day.month - 1]],
             "days_of_month": [str(day.day)], "location": timezone}
            for day in sorted(set(dates))]


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
