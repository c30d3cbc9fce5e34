"""Gathering a client's month into a :class:`~sla_bridge.reports.model.ReportContent`.

The bridge's records give the incidents (as ``GET /api/v1/incidents`` shows them), the ledger
(``GET /api/v1/ledger``'s JSON itself), the maintenance windows and the operators' actions
outside opening hours; Prometheus gives availability and the probes' facts
(:mod:`sla_bridge.reports.prometheus`). Without Prometheus, or when it fails, the report says so
in its notes rather than showing figures it does not have.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from owl.inventory import Client, Inventory
from sla_bridge.engine.ledger import month_bounds
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.ledger_format import ledger_json
from sla_bridge.reports import facts
from sla_bridge.reports.model import (Header, IncidentRow, MaintenanceRow, Rates,
                                      ReportContent)
from sla_bridge.reports.prometheus import Prometheus
from sla_bridge.service import NotFound, SlaService
from sla_bridge.service.incident_reads import deadline_clock
from sla_bridge.storage.schema import Incident, Maintenance

log = logging.getLogger("owl.bridge.reports")

ALL_INCIDENTS = 10**9


@dataclass(frozen=True)
class ReportSources:
    service: SlaService
    inventory: Inventory
    prometheus: Prometheus | None  # None: the report says its figures are not available


@dataclass(frozen=True)
class Period:
    month: str
    start: dt.datetime
    end: dt.datetime
    timezone: str

    def as_of(self, now: dt.datetime) -> dt.datetime:
        """Where the month's figures stop: its end, or now for the month in progress."""
        return min(self.end, now)


def build_report(sources: ReportSources, client_id: str, month: str,
                 now: dt.datetime) -> ReportContent:
    client = sources.inventory.client(client_id)
    if client is None:
        raise NotFound(f"unknown client {client_id!r}")
    timezone = sources.inventory.provider.timezone
    start, end = month_bounds(month, ZoneInfo(timezone))
    if start > now:
        raise ValueError(f"month: {month} has not started yet")
    period = Period(month, start, end, timezone)
    service = sources.service
    terms = service.terms_of_month(client_id, month)
    ledger = ledger_json(service.ledger(client_id, month)) if terms.tier > 0 else None
    with service.db.read() as session:
        maintenances = _maintenances(session, client_id, period)
    gathered = facts.gather(sources.prometheus, client, terms.tier, period, now)
    return ReportContent(
        header=_header(sources.inventory, client, terms, period, now),
        availability=gathered.availability, incidents=_incidents(service, client_id, month),
        ledger=ledger, rates=Rates(dict(terms.penalty_rates), terms.penalty_cap,
                                   dict(terms.response_times)),
        maintenances=maintenances,
        interventions=tuple(service.interventions(client_id, month)), security=gathered.security,
        operations=gathered.operations, notes=gathered.notes)


def _header(inventory: Inventory, client: Client, terms: ClientTerms, period: Period,
            now: dt.datetime) -> Header:
    calendar = inventory.calendar_for(client)
    contract = client.contract
    return Header(
        client=client.id, client_name=client.name, quote=contract.quote, tier=terms.tier,
        status=terms.status, monthly_fee=terms.monthly_fee, currency=terms.currency,
        support_24_7=terms.support_24_7, opening_hours=dict(calendar.hours),
        calendar_timezone=inventory.timezone_for(client),
        holidays_country=calendar.holidays.country,
        holidays_subdivision=calendar.holidays.subdivision,
        annex_version=contract.annex_version, month=period.month, period_start=period.start,
        period_end=period.end, timezone=period.timezone, produced_at=now,
        provider_name=inventory.provider.name)


def _incidents(service: SlaService, client: str, month: str) -> tuple[IncidentRow, ...]:
    terms = service.terms.get(client)
    rows = service.find(client=client, month=month, limit=ALL_INCIDENTS)
    return tuple(_incident_row(incident, terms)
                 for incident in sorted(rows, key=lambda row: (row.started_at, row.id)))


def _incident_row(incident: Incident, terms: ClientTerms | None) -> IncidentRow:
    clock = deadline_clock(incident, terms)
    return IncidentRow(
        id=incident.id, severity=incident.severity, target=incident.target,
        alertname=incident.alertname, summary=incident.summary,
        started_at=incident.started_at, deadline=incident.deadline,
        wall_clock=clock.wall_clock if clock else None,
        response_time=clock.response_time if clock else None,
        holidays=clock.holidays if clock else (),
        acknowledged_at=incident.acknowledged_at, acknowledged_by=incident.acknowledged_by,
        resolved_at=incident.resolved_at, state=incident.state, sla=incident.sla,
        penalty_rate=incident.penalty_rate, exclusion_reason=incident.exclusion_reason,
        exclusion_note=incident.exclusion_note, security=incident.security,
        security_notified_at=incident.security_notified_at,
        maintenance_id=incident.maintenance_id)


def _maintenances(session, client: str, period: Period) -> tuple[MaintenanceRow, ...]:
    rows = session.scalars(select(Maintenance).where(
        Maintenance.client == client, Maintenance.starts_at < period.end,
        Maintenance.ends_at > period.start).order_by(Maintenance.starts_at,
                                                      Maintenance.id)).all()
    return tuple(MaintenanceRow(
        id=row.id, targets=tuple(row.targets or ()), starts_at=row.starts_at,
        ends_at=row.ends_at, description=row.description, emergency=row.emergency,
        announced_at=row.announced_at, announced_by=row.announced_by,
        cancelled_at=row.cancelled_at) for row in rows)
