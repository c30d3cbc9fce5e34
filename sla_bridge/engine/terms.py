"""A client's contract terms as the engine reads them (sections 4, 5 and 9).

The engine only reads terms: :mod:`sla_bridge.contract_terms` builds them, from the inventory or
from a snapshot in the event history, with owl's calendars behind the protocols below.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Adds a response time to an instant (section 5a); aware UTC datetimes in and out."""

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime: ...


class OpeningHours(Clock, Protocol):
    """The client's opening hours and public holidays, as ``owl.businesstime`` computes them.

    ``add`` counts business time only. ``add_working_days`` is not the engine's: the deletion
    day of section 9 (``sla_bridge.retention``) reads it from the terms.
    """

    def add_working_days(self, day: dt.date, count: int) -> dt.date: ...


@dataclass(frozen=True)
class ClientTerms:
    """What the contract says, for one client, at one point in its history."""

    client: str
    tier: int
    monthly_fee: Decimal
    currency: str
    support_24_7: bool
    status: str
    suspended_since: dt.datetime | None
    terminated_on: dt.date | None
    trial_end: dt.date | None
    calendar: OpeningHours
    wall_clock: Clock
    response_times: dict[str, dt.timedelta]
    penalty_rates: dict[str, Decimal]
    penalty_cap: Decimal
    reopen_window: dt.timedelta
    ledger_timezone: ZoneInfo

    def clock_for(self, severity: str) -> Clock:
        """Critical runs on the wall clock under 24/7 support; everything else on business hours."""
        if severity == "critical" and self.support_24_7:
            return self.wall_clock
        return self.calendar

    def suspended_at(self, at: dt.datetime) -> bool:
        return (self.status == "suspended" and self.suspended_since is not None
                and at >= self.suspended_since)

    @property
    def monitoring_end(self) -> dt.datetime | None:
        """Local midnight of the first day without monitoring, if the contract has one: the day
        a termination takes effect, or the end of a tier-0 trial."""
        ends = [day for day in (self.terminated_on if self.status == "terminated" else None,
                                self.trial_end) if day]
        return dt.datetime.combine(min(ends), dt.time(), self.ledger_timezone) if ends else None

    def terminated_at(self, at: dt.datetime) -> bool:
        return self.terminated_on is not None and \
            at.astimezone(self.ledger_timezone).date() >= self.terminated_on
