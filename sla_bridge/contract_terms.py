"""The engine's contract terms, built from the inventory or from the event history.

Every contract in force is recorded in the history as a snapshot (:func:`contract_snapshot`);
replay and retention build the terms back from it (:func:`terms_from_snapshot`). The calendars
behind the terms are ``owl.businesstime``'s.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from owl.businesstime import WEEKDAYS, BusinessCalendar, WallClock
from owl.inventory import Calendar, Client, Inventory
from sla_bridge.engine.terms import ClientTerms

UTC = dt.timezone.utc
WALL_CLOCK = WallClock()


class CalendarCache:
    """Builds each distinct calendar once: holidays and day intervals are worth keeping."""

    def __init__(self):
        self._calendars: dict[tuple, BusinessCalendar] = {}

    def get(self, hours: dict[str, str], timezone: str, country: str,
            subdivision: str | None) -> BusinessCalendar:
        key = (tuple(sorted(hours.items())), timezone, country, subdivision)
        if key not in self._calendars:
            self._calendars[key] = BusinessCalendar.from_spec(hours, timezone, country,
                                                              subdivision)
        return self._calendars[key]


def _midnight(day: dt.date | dt.datetime, tz: ZoneInfo) -> dt.datetime:
    if isinstance(day, dt.datetime):
        return day if day.tzinfo else day.replace(tzinfo=tz)
    return dt.datetime.combine(day, dt.time(), tz)


def terms_for_client(inventory: Inventory, client: Client, calendars: CalendarCache) -> ClientTerms:
    contract = client.contract
    calendar_spec: Calendar = inventory.calendar_for(client)
    timezone = calendar_spec.timezone or inventory.provider.timezone
    provider_tz = ZoneInfo(inventory.provider.timezone)
    return ClientTerms(
        client=client.id,
        tier=contract.tier,
        monthly_fee=contract.monthly_fee,
        currency=contract.currency,
        support_24_7=contract.support_24_7,
        status=contract.status,
        suspended_since=(_midnight(contract.suspended_since, provider_tz).astimezone(UTC)
                         if contract.suspended_since else None),
        terminated_on=contract.terminated_on,
        trial_end=contract.trial_end,
        calendar=calendars.get(calendar_spec.hours, timezone, calendar_spec.holidays.country,
                               calendar_spec.holidays.subdivision),
        wall_clock=WALL_CLOCK,
        response_times=dict(contract.response_times),
        penalty_rates=dict(contract.penalty_rates),
        penalty_cap=contract.penalty_cap,
        reopen_window=contract.reopen_window,
        ledger_timezone=provider_tz,
    )


def terms_from_inventory(inventory: Inventory, calendars: CalendarCache | None = None,
                         only: set[str] | None = None) -> dict[str, ClientTerms]:
    """The terms of every client, or of the clients in ``only`` (a command about one client
    need not build 10,000 clients' terms)."""
    calendars = calendars or CalendarCache()
    return {client.id: terms_for_client(inventory, client, calendars)
            for client in inventory.clients if only is None or client.id in only}


def contract_snapshot(terms: ClientTerms) -> dict:
    """The contract as recorded in the event history (JSON-ready, exact decimals as strings)."""
    # The engine's protocol does not expose a calendar's spec; the terms built here carry
    # CalendarCache's BusinessCalendars, which do.
    calendar: BusinessCalendar = terms.calendar
    return {
        "tier": terms.tier, "monthly_fee": str(terms.monthly_fee), "currency": terms.currency,
        "support_24_7": terms.support_24_7, "status": terms.status,
        "suspended_since": terms.suspended_since.isoformat() if terms.suspended_since else None,
        "terminated_on": terms.terminated_on.isoformat() if terms.terminated_on else None,
        "trial_end": terms.trial_end.isoformat() if terms.trial_end else None,
        "calendar": {"hours": _hours_spec(calendar), "timezone": calendar.timezone,
                     "country": calendar.country, "subdivision": calendar.subdivision},
        "response_times": {k: int(v.total_seconds()) for k, v in terms.response_times.items()},
        "penalty_rates": {k: str(v) for k, v in terms.penalty_rates.items()},
        "penalty_cap": str(terms.penalty_cap),
        "reopen_window": int(terms.reopen_window.total_seconds()),
        "ledger_timezone": terms.ledger_timezone.key,
    }


def _hours_spec(calendar: BusinessCalendar) -> dict[str, str]:
    return {WEEKDAYS[day]: ",".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
                                    for a, b in ranges)
            for day, ranges in sorted(calendar.weekly.items()) if ranges}


def terms_from_snapshot(client: str, snapshot: dict, calendars: CalendarCache) -> ClientTerms:
    """The inverse of :func:`contract_snapshot`, used when replaying the event history."""
    cal = snapshot["calendar"]
    return ClientTerms(
        client=client,
        tier=snapshot["tier"],
        monthly_fee=Decimal(snapshot["monthly_fee"]),
        currency=snapshot["currency"],
        support_24_7=snapshot["support_24_7"],
        status=snapshot["status"],
        suspended_since=(dt.datetime.fromisoformat(snapshot["suspended_since"])
                         if snapshot["suspended_since"] else None),
        terminated_on=(dt.date.fromisoformat(snapshot["terminated_on"])
                       if snapshot["terminated_on"] else None),
        trial_end=(dt.date.fromisoformat(snapshot["trial_end"])
                   if snapshot["trial_end"] else None),
        calendar=calendars.get(cal["hours"], cal["timezone"], cal["country"], cal["subdivision"]),
        wall_clock=WALL_CLOCK,
        response_times={k: dt.timedelta(seconds=v)
                        for k, v in snapshot["response_times"].items()},
        penalty_rates={k: Decimal(v) for k, v in snapshot["penalty_rates"].items()},
        penalty_cap=Decimal(snapshot["penalty_cap"]),
        reopen_window=dt.timedelta(seconds=snapshot["reopen_window"]),
        ledger_timezone=ZoneInfo(snapshot["ledger_timezone"]),
    )
