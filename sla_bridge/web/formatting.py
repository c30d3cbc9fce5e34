"""How pages show values: times in a timezone, durations, money and rates in the reader's
language, and the French names of the engine's codes (severities, states, SLA statuses,
exclusion reasons), each kept once here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.numbers import format_currency, format_percent
from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from sla_bridge.request_values import bridge
from sla_bridge.timefmt import rfc3339

SEVERITIES = {"critical": _l("critical"), "major": _l("major"), "minor": _l("minor"),
              "unknown": _l("unknown")}
STATES = {"open": _l("open"), "acknowledged": _l("acknowledged"), "resolved": _l("resolved")}
SLA_STATUSES = {
    "pending": _l("pending"), "met": _l("met"), "breached": _l("breached"),
    "resolved_without_response": _l("resolved without response"), "no_sla": _l("no SLA"),
    "maintenance": _l("maintenance"), "excluded": _l("excluded"), "suspended": _l("suspended"),
}
EXCLUSION_REASONS = {
    "third_party": _l("third party (hosting provider or other)"),
    "unauthorized_change": _l("unauthorized change (by the client or a third party)"),
    "hardware": _l("hardware failure"),
    "out_of_scope": _l("system outside the contract"),
    "client_unpatched_vulnerability": _l("vulnerability the client left unpatched"),
    "zero_day": _l("zero-day vulnerability"),
}


def provider_timezone() -> str:
    return bridge().config.inventory.provider.timezone


def client_timezone(client: str | None) -> str:
    """The timezone of ``client``'s opening hours, or the provider's."""
    inventory = bridge().config.inventory
    found = inventory.client(client) if client else None
    return inventory.timezone_for(found) if found else inventory.provider.timezone


def when(value: dt.datetime | None, timezone: str | None = None) -> str:
    """``value`` as a reader's date and time in ``timezone`` (default: the provider's)."""
    if value is None:
        return "—"
    return format_datetime(value, "d MMM y HH:mm", tzinfo=ZoneInfo(timezone or provider_timezone()),
                           locale=get_locale())


def duration(value: dt.timedelta | float | None) -> str:
    """A duration to the minute, largest units first: "2 d 3 h", "1 h 05 min", "4 min"."""
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    minutes = int(abs(seconds)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    sign = "-" if seconds < 0 else ""
    if days:
        return f"{sign}{days} {_l('d')} {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{minutes} min"


def money(amount: Decimal | str | None, currency: str = "EUR") -> str:
    if amount is None:
        return "—"
    return format_currency(Decimal(amount), currency, locale=get_locale())


def rate(value: Decimal | str | None) -> str:
    """A rate of the monthly fee (``"0.015"``) as a percentage ("1,5 %")."""
    if value is None:
        return "—"
    return format_percent(Decimal(value), "#,##0.##%", locale=get_locale())


def register(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(duration)
    app.add_template_filter(money)
    app.add_template_filter(rate)
    app.add_template_filter(rfc3339, "iso")
    app.add_template_global(client_timezone)
    app.add_template_global(get_locale)
    app.add_template_global(SEVERITIES, "SEVERITIES")
    app.add_template_global(STATES, "STATES")
    app.add_template_global(SLA_STATUSES, "SLA_STATUSES")
    app.add_template_global(EXCLUSION_REASONS, "EXCLUSION_REASONS")
