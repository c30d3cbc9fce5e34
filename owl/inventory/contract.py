"""A client's contract: tier, fee, status, opening hours, response times, penalties, backups."""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from owl.inventory.fields import Duration, Money, Rate, StrictModel, TimezoneName


class Holidays(StrictModel):
    """French public holidays from the ``holidays`` library; ``subdivision`` such as ``"57"``."""

    country: str = "FR"
    subdivision: str | None = None

    @model_validator(mode="after")
    def _known(self):
        import holidays

        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision, years=2025)
        except NotImplementedError:
            raise ValueError(f"country {self.country!r} is not known to the holidays library") \
                from None
        except Exception as exc:  # the library raises several types for bad subdivisions
            raise ValueError(f"subdivision {self.subdivision!r}: {exc}") from None
        return self


class Calendar(StrictModel):
    """Opening hours ("horaires d'ouverture") and the holidays that close them.

    ``hours`` maps days (``mon-fri``, ``sat``, ``mon,wed``) to ranges (``"09:00-12:00,14:00-18:00"``).
    """

    hours: dict[str, str] = Field(default_factory=lambda: {"mon-fri": "09:00-18:00"})
    holidays: Holidays = Field(default_factory=Holidays)
    timezone: TimezoneName | None = None

    @model_validator(mode="after")
    def _parse_hours(self):
        from owl.businesstime import parse_weekly_hours

        parse_weekly_hours(self.hours)
        return self


class ResponseTimes(StrictModel):
    critical: Duration = dt.timedelta(hours=4)
    major: Duration = dt.timedelta(hours=24)
    minor: Duration = dt.timedelta(hours=48)


class PenaltyRates(StrictModel):
    critical: Rate = Decimal("0.03")
    major: Rate = Decimal("0.015")
    minor: Rate = Decimal("0.005")


class BackupPolicy(StrictModel):
    """From the quote (section 8): how often backups run and are checked, and how many are kept."""

    period: Duration = dt.timedelta(days=1)
    grace: Duration = dt.timedelta(hours=6)
    retention: int = Field(default=7, ge=1)
    check_period: Duration = dt.timedelta(days=7)
    restore_test_period: Duration = dt.timedelta(days=30)


class Contract(StrictModel):
    tier: Literal[0, 1, 2, 3, 4]
    monthly_fee: Money
    currency: Literal["EUR"] = "EUR"
    support_24_7: bool = False
    quote: str = Field(min_length=1)
    # the version of the annex "Infogérance et Monitoring" the contract was signed under
    annex_version: str = Field(default="2.0 du 24 janvier 2025", min_length=1)
    start: dt.date
    status: Literal["trial", "active", "suspended", "terminated"] = "active"
    suspended_since: dt.datetime | dt.date | None = None
    terminated_on: dt.date | None = None
    calendar: Calendar | None = None
    response_times: ResponseTimes = Field(default_factory=ResponseTimes)
    penalty_rates: PenaltyRates = Field(default_factory=PenaltyRates)
    penalty_cap: Rate = Decimal("0.05")
    reopen_window: Duration = dt.timedelta(minutes=30)
    backups: BackupPolicy | None = None

    @model_validator(mode="after")
    def _status_fields(self):
        if self.status == "suspended" and self.suspended_since is None:
            raise ValueError("status 'suspended' needs suspended_since (the date it started)")
        if self.status == "terminated" and self.terminated_on is None:
            raise ValueError("status 'terminated' needs terminated_on (the termination date)")
        if self.status == "trial" and self.tier != 0:
            raise ValueError(f"status 'trial' is tier 0 (Découverte), not tier {self.tier}")
        if self.tier == 0 and self.status in ("active", "suspended"):
            raise ValueError("tier 0 (Découverte) is a one-month trial: status must be "
                             "'trial' or 'terminated'")
        return self

    def unmonitored_reason(self, today: dt.date) -> str | None:
        """Why the contract is not monitored on ``today``, or ``None`` when it is.

        Monitoring stops on the termination day, and for a tier-0 trial on ``trial_end`` (a
        trial started on 1 June is monitored up to 30 June included). A suspended contract
        stays monitored: only notifications stop (docs/sla-rules.md, section 6).
        """
        if self.status == "terminated" and today >= self.terminated_on:
            return f"terminated on {self.terminated_on.isoformat()}"
        if self.trial_end is not None and today >= self.trial_end:
            return f"tier-0 trial over since {self.trial_end.isoformat()}"
        return None

    @property
    def trial_end(self) -> dt.date | None:
        """Tier 0 monitors for one month from ``start`` only."""
        if self.tier != 0:
            return None
        month = self.start.month % 12 + 1
        year = self.start.year + (self.start.month == 12)
        day = min(self.start.day, monthrange(year, month)[1])
        return dt.date(year, month, day)
