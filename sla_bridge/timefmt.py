"""Timestamps as the API writes them: RFC 3339 in UTC with a ``Z``; months as the API and the
pages read them."""

from __future__ import annotations

import datetime as dt

from sla_bridge.engine.ledger import MONTH
from sla_bridge.webhook import FIRST_YEAR, LAST_YEAR


def rfc3339(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def month_problem(value: str) -> str | None:
    """Why ``value`` is not a ledger's month (``YYYY-MM`` in the years the bridge accepts),
    or None."""
    if not (value.isascii() and MONTH.fullmatch(value)):
        return f"{value!r} is not a month as YYYY-MM"
    if not FIRST_YEAR <= int(value[:4]) <= LAST_YEAR:
        return f"the year must be from {FIRST_YEAR} to {LAST_YEAR}"
    return None
