"""The report's French: the names of the contract's codes as the annex words them, and how dates,
durations, money and rates are written. A report is a contractual document in the contract's
language, so it is French whatever the reader's browser asks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE = "fr_FR"

TIERS = {0: "Découverte", 1: "Essentiel", 2: "Professionnel", 3: "Avancé",
         4: "Infrastructure Globale"}
SEVERITIES = {"critical": "critique", "major": "majeur", "minor": "mineur"}
LEVELS = {"critical": "Niveau 3", "major": "Niveau 2", "minor": "Niveau 1"}  # section 5a
SLA_STATUSES = {
    "pending": "en cours", "met": "respecté", "breached": "dépassé",
    "resolved_without_response": "résolu sans prise en charge", "no_sla": "hors SLA",
    "maintenance": "maintenance planifiée", "excluded": "exclu", "suspended": "contrat suspendu",
}
STATES = {"open": "ouvert", "acknowledged": "pris en charge", "resolved": "résolu"}
# Sections 7 and 8: the causes for which OWL SYSTEMS is not liable.
EXCLUSION_REASONS = {
    "third_party": "défaillance d'un tiers (hébergeur ou autre prestataire)",
    "unauthorized_change": "manipulation non autorisée (client ou tiers)",
    "hardware": "défaillance matérielle",
    "out_of_scope": "système hors du périmètre du contrat",
    "client_unpatched_vulnerability": "vulnérabilité non corrigée par le client",
    "zero_day": "vulnérabilité « zero-day »",
}
VULNERABILITY_SEVERITIES = {"critical": "critique", "high": "élevée", "medium": "moyenne",
                            "low": "faible"}
ACTIONS = {
    "ack": "prise en charge d'un incident", "exclusion": "exclusion d'un incident",
    "exclusion_withdrawn": "retrait d'une exclusion",
    "maintenance_created": "annonce d'une maintenance",
    "maintenance_cancelled": "annulation d'une maintenance",
}
STATUSES = {"trial": "période d'essai", "active": "actif", "suspended": "suspendu",
            "terminated": "résilié"}
DAYS = {"mon": "lundi", "tue": "mardi", "wed": "mercredi", "thu": "jeudi", "fri": "vendredi",
        "sat": "samedi", "sun": "dimanche"}
NOTHING = "—"


def when(value: dt.datetime | None, timezone: str) -> str:
    if value is None:
        return NOTHING
    return format_datetime(value, "d MMM y HH:mm", tzinfo=ZoneInfo(timezone), locale=LOCALE)


def day(value: dt.date | dt.datetime, timezone: str | None = None) -> str:
    if isinstance(value, dt.datetime):
        value = value.astimezone(ZoneInfo(timezone or "UTC")).date()
    return format_date(value, "EEEE d MMMM y", locale=LOCALE)


def month_name(month: str) -> str:
    """``2026-05`` as "mai 2026"."""
    year, number = (int(part) for part in month.split("-"))
    return format_date(dt.date(year, number, 1), "LLLL y", locale=LOCALE)


def duration(value: dt.timedelta | float | None) -> str:
    """To the minute, largest units first: "2 j 3 h", "1 h 05 min", "4 min"; a float is
    minutes."""
    if value is None:
        return NOTHING
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value) * 60
    minutes = round(abs(seconds) / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    sign = "-" if seconds < 0 else ""
    if days:
        return f"{sign}{days} j {hours} h" if hours else f"{sign}{days} j"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    return f"{sign}{minutes} min"


def hours(value: dt.timedelta) -> str:
    return f"{format_decimal(value.total_seconds() / 3600, '#,##0.#', locale=LOCALE)} h"


def money(amount: Decimal | str | None, currency: str = "EUR") -> str:
    if amount is None:
        return NOTHING
    return format_currency(Decimal(amount), currency, locale=LOCALE)


def rate(value: Decimal | str | None) -> str:
    """A share of the monthly fee (``"0.015"``) as "1,5 %"."""
    if value is None:
        return NOTHING
    return format_percent(Decimal(value), "#,##0.##\u00a0%", locale=LOCALE)


def availability(ratio: float | None) -> str:
    """A measured share of time, to three decimals: "99,871 %"; unmeasured: "non mesuré"."""
    if ratio is None:
        return "non mesuré"
    return format_percent(ratio, "#,##0.000\u00a0%", locale=LOCALE)


def count(value: float | None) -> str:
    return NOTHING if value is None else format_decimal(value, "#,##0", locale=LOCALE)


def opening_hours(spec: dict[str, str]) -> str:
    """``{"mon-fri": "09:00-18:00"}`` as "du lundi au vendredi, 09:00–18:00"."""
    return " ; ".join(f"{_days(days)}, {ranges.replace('-', '–').replace(',', ', ')}"
                      for days, ranges in spec.items())


def _days(spec: str) -> str:
    parts = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        parts.append(f"du {DAYS.get(first, first)} au {DAYS.get(last, last)}" if last
                     else DAYS.get(first, first))
    return ", ".join(parts)


def late(last: dt.datetime | None, period: dt.timedelta | None, at: dt.datetime,
         grace: dt.timedelta | None = None) -> bool:
    """Whether what was last done at ``last`` is overdue at ``at`` against its ``period``."""
    if last is None or period is None:
        return last is None and period is not None
    return at - last > period + (grace or dt.timedelta(0))


def yes_no(value: bool | None) -> str:
    return NOTHING if value is None else ("oui" if value else "non")


FILTERS = {"when": when, "day": day, "month_name": month_name, "duration": duration,
           "hours": hours, "money": money, "rate": rate, "availability": availability,
           "count": count, "opening_hours": opening_hours, "yes_no": yes_no}
LABELS = {"TIERS": TIERS, "SEVERITIES": SEVERITIES, "LEVELS": LEVELS,
          "SLA_STATUSES": SLA_STATUSES, "STATES": STATES, "EXCLUSION_REASONS": EXCLUSION_REASONS,
          "ACTIONS": ACTIONS, "STATUSES": STATUSES,
          "VULNERABILITY_SEVERITIES": VULNERABILITY_SEVERITIES}
