"""The monthly penalty ledger (contract section 5c): lines that add up to the total."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")  # a ledger's month, YYYY-MM, as month_of writes it


@dataclass(frozen=True)
class Breach:
    incident_id: int
    severity: str
    started_at: dt.datetime
    deadline: dt.datetime
    rate: Decimal


@dataclass(frozen=True)
class LedgerLine:
    kind: str  # "breach" | "cap_adjustment" | "rounding_adjustment"
    rate: Decimal
    amount: Decimal
    incident_id: int | None = None
    severity: str | None = None
    started_at: dt.datetime | None = None
    deadline: dt.datetime | None = None


@dataclass(frozen=True)
class Ledger:
    client: str
    month: str
    currency: str
    monthly_fee: Decimal
    lines: tuple[LedgerLine, ...]
    rate_total: Decimal
    cap_rate: Decimal
    applied_rate: Decimal
    total: Decimal


def money(amount: Decimal) -> Decimal:
    """Rounded to the cent, half up, as the contract's amounts are."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def build_ledger(client: str, month: str, currency: str, monthly_fee: Decimal, cap: Decimal,
                 breaches: list[Breach]) -> Ledger:
    """One line per breach in clock-start order; one adjustment line where the cap bites."""
    ordered = sorted(breaches, key=lambda b: (b.started_at, b.incident_id))
    lines = [LedgerLine("breach", b.rate, money(b.rate * monthly_fee), b.incident_id,
                        b.severity, b.started_at, b.deadline) for b in ordered]
    rate_total = sum((b.rate for b in ordered), Decimal("0"))
    applied = min(rate_total, cap)
    total = money(applied * monthly_fee)
    difference = total - sum((line.amount for line in lines), Decimal("0"))
    if applied < rate_total:
        lines.append(LedgerLine("cap_adjustment", applied - rate_total, difference))
    elif difference:  # rounding each line apart can differ from rounding their sum by a cent
        lines.append(LedgerLine("rounding_adjustment", Decimal("0"), difference))
    return Ledger(client, month, currency, monthly_fee, tuple(lines), rate_total, cap, applied,
                  total)


def month_of(at: dt.datetime, tz: ZoneInfo) -> str:
    """The calendar month of an instant in the provider's timezone, as ``YYYY-MM``."""
    return at.astimezone(tz).strftime("%Y-%m")


def month_bounds(month: str, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants at which ``YYYY-MM`` starts and ends in ``tz``."""
    year, number = (int(part) for part in month.split("-"))
    start = dt.datetime(year, number, 1, tzinfo=tz)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
