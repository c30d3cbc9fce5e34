"""What a monthly client report says, as plain values: the one input of its HTML and PDF.

:func:`sla_bridge.reports.build.build_report` gathers it (the bridge's database for incidents,
ledger, maintenance and interventions; Prometheus for availability, CMS, vulnerabilities,
backups and the checkout path); :mod:`sla_bridge.reports.document` lays it out. Times are aware
UTC datetimes; money and rates are exact decimals; the ledger is the API's JSON exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from sla_bridge.service.interventions import Intervention


@dataclass(frozen=True)
class Header:
    client: str  # the client's id
    client_name: str
    quote: str  # "numéro du devis" (section 10)
    tier: int  # 0 Découverte ... 4 Infrastructure Globale (section 4)
    status: str  # trial | active | suspended | terminated
    monthly_fee: Decimal
    currency: str
    support_24_7: bool
    opening_hours: dict[str, str]  # the calendar's spec, e.g. {"mon-fri": "09:00-18:00"}
    calendar_timezone: str  # of the opening hours
    holidays_country: str
    holidays_subdivision: str | None
    annex_version: str  # e.g. "2.0 du 24 janvier 2025"
    month: str  # YYYY-MM
    period_start: dt.datetime  # first instant of the month in the provider's timezone
    period_end: dt.datetime  # first instant of the next month
    timezone: str  # the provider's: the month's and the report's times
    produced_at: dt.datetime
    provider_name: str

    @property
    def provisional(self) -> bool:
        """The month is still running: the figures stop at ``produced_at``."""
        return self.produced_at < self.period_end

    @property
    def as_of(self) -> dt.datetime:
        """Where the figures stop: the month's end, or when a provisional report was made."""
        return min(self.produced_at, self.period_end)

    @property
    def sla_applies(self) -> bool:
        """A tier-0 trial has no SLA section (section 4)."""
        return self.tier > 0


@dataclass(frozen=True)
class DayAvailability:
    day: dt.date  # in the provider's timezone
    ratio: float | None  # None: no measured minute that day (blind, or all in maintenance)
    downtime_minutes: float | None


@dataclass(frozen=True)
class TargetAvailability:
    kind: str  # "site" | "server"
    target: str  # the site's or server's id
    address: str  # the site's URL or the server's address
    ratio: float | None  # over the month, maintenance windows left out
    measured_minutes: float | None
    downtime_minutes: float | None
    days: tuple[DayAvailability, ...]


@dataclass(frozen=True)
class Availability:
    """The month's availability, as Prometheus computed it (the client dashboard's queries)."""

    source: str  # the Prometheus queried, e.g. "http://127.0.0.1:9090"
    expressions: tuple[str, ...]  # the PromQL used, quoted in the report
    targets: tuple[TargetAvailability, ...]
    error: str | None = None  # why the figures are missing, if they are


@dataclass(frozen=True)
class IncidentRow:
    id: int
    severity: str
    target: str | None
    alertname: str
    summary: str
    started_at: dt.datetime
    deadline: dt.datetime | None
    wall_clock: bool | None  # the deadline's clock: True 24/7, False business hours, None none
    response_time: dt.timedelta | None
    holidays: tuple[dt.date, ...]  # public holidays that moved the deadline
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    state: str
    sla: str
    penalty_rate: Decimal
    exclusion_reason: str | None
    exclusion_note: str | None
    security: bool
    security_notified_at: dt.datetime | None
    maintenance_id: int | None


@dataclass(frozen=True)
class MaintenanceRow:
    id: int
    targets: tuple[str, ...]  # empty: every site and server of the client
    starts_at: dt.datetime
    ends_at: dt.datetime
    description: str
    emergency: bool
    announced_at: dt.datetime
    announced_by: str
    cancelled_at: dt.datetime | None

    @property
    def notice(self) -> dt.timedelta:
        """How long before its start the window was announced (48 h needed, section 5b)."""
        return self.starts_at - self.announced_at


@dataclass(frozen=True)
class Rates:
    """The contract's rates (section 5c) as they applied to the month."""

    penalty_rates: dict[str, Decimal]  # severity -> share of the monthly fee
    penalty_cap: Decimal
    response_times: dict[str, dt.timedelta]


@dataclass(frozen=True)
class SiteSoftware:
    """Tier 2 and up: what the probes found of a site's CMS (section 4c)."""

    site: str
    cms: str | None
    version: str | None
    core_update_available: bool | None
    core_supported: bool | None
    component_updates: int | None


@dataclass(frozen=True)
class Vulnerability:
    site: str
    component: str
    id: str
    severity: str
    known_exploited: bool


@dataclass(frozen=True)
class ExposedFile:
    site: str
    path: str


@dataclass(frozen=True)
class Security:
    """Tier 2 and up, as of the end of the month."""

    software: tuple[SiteSoftware, ...]
    vulnerabilities: tuple[Vulnerability, ...]
    exposed_files: tuple[ExposedFile, ...]


@dataclass(frozen=True)
class BackupState:
    """Tier 3 and up: one backup of a server against the quote, as of the end of the month."""

    server: str
    backup: str
    tool: str
    last_snapshot: dt.datetime | None
    period: dt.timedelta | None  # the quote's period (plus grace: ``grace``)
    grace: dt.timedelta | None
    last_check: dt.datetime | None
    check_success: bool | None
    check_period: dt.timedelta | None
    last_restore_test: dt.datetime | None
    restore_test_success: bool | None
    restore_test_period: dt.timedelta | None


@dataclass(frozen=True)
class CheckoutState:
    """Tier 3 and up: the shop's checkout path over the month."""

    site: str
    ratio: float | None  # share of the month's checks that succeeded
    last_success: bool | None  # as of the end of the month
    failing_steps: tuple[str, ...]  # steps failing at the end of the month


@dataclass(frozen=True)
class Operations:
    """Tier 3 and up."""

    backups: tuple[BackupState, ...]
    checkouts: tuple[CheckoutState, ...]


@dataclass(frozen=True)
class ReportContent:
    header: Header
    availability: Availability
    incidents: tuple[IncidentRow, ...]  # of the month (clock start in the month), by start
    ledger: dict | None  # ledger_json(...) as GET /api/v1/ledger gives it; None: no SLA
    rates: Rates
    maintenances: tuple[MaintenanceRow, ...]  # windows overlapping the month
    interventions: tuple[Intervention, ...]  # outside opening hours; none under 24/7
    security: Security | None  # tier 2 and up
    operations: Operations | None  # tier 3 and up
    notes: tuple[str, ...] = field(default=())  # what could not be gathered, in French

    @property
    def security_incidents(self) -> tuple[IncidentRow, ...]:
        return tuple(row for row in self.incidents if row.security)


def summary(content: ReportContent) -> dict:
    """What the bridge's own records say of the month, as JSON: stored beside each report,
    compared between versions (:mod:`sla_bridge.reports.changes`) and with ``owl sla
    replay``. Prometheus' figures are not part of it: they do not change once a month closed."""
    return _json({"incidents": [asdict(row) for row in content.incidents],
                  "ledger": content.ledger,
                  "maintenances": [asdict(row) for row in content.maintenances],
                  "interventions": [asdict(row) for row in content.interventions]})


def _json(value):
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    return value
