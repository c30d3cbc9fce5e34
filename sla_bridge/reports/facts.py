"""The report's parts that Prometheus knows: availability of every site and server, and, by
tier, the probes' facts as of the month's end (section 4c for tier 2, section 8 for tier 3).

A part Prometheus cannot give is left empty, with a note in French saying why: a report never
shows a figure it does not have, nor hides that one is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from owl.inventory import Client
from sla_bridge.reports.model import (Availability, BackupState, CheckoutState, DayAvailability,
                                      ExposedFile, Operations, Security, SiteSoftware,
                                      TargetAvailability, Vulnerability)
from sla_bridge.reports.prometheus import (SERVERS, SITES, MonthAvailability, Prometheus,
                                           PrometheusError, Sample, last_values, month_ratio)

log = logging.getLogger("owl.bridge.reports")

SECURITY_TIER, OPERATIONS_TIER = 2, 3
NO_PROMETHEUS = "Prometheus n'est pas configuré pour ce rapport : ses chiffres n'y figurent pas."


class Period(Protocol):
    month: str
    start: dt.datetime
    end: dt.datetime
    timezone: str

    def as_of(self, now: dt.datetime) -> dt.datetime: ...


@dataclass(frozen=True)
class Gathered:
    availability: Availability
    security: Security | None
    operations: Operations | None
    notes: tuple[str, ...]


def gather(prometheus: Prometheus | None, client: Client, tier: int, period: Period,
           now: dt.datetime) -> Gathered:
    if prometheus is None:
        return Gathered(Availability("", (), (), NO_PROMETHEUS), None, None, (NO_PROMETHEUS,))
    at = period.as_of(now)
    try:
        availability = _availability(prometheus, client, period, at)
        security = _security(prometheus, client.id, at) if tier >= SECURITY_TIER else None
        operations = (_operations(prometheus, client.id, period.start, at)
                      if tier >= OPERATIONS_TIER else None)
    except PrometheusError as exc:
        log.warning("report of %s for %s without Prometheus' figures: %s", client.id,
                    period.month, exc)
        note = f"Les chiffres de Prometheus n'ont pas pu être lus : {exc}"
        return Gathered(Availability(prometheus.url, (), (), note), None, None, (note,))
    return Gathered(availability, security, operations, ())


# --- availability ------------------------------------------------------------------------------

def _availability(prometheus: Prometheus, client: Client, period: Period,
                  at: dt.datetime) -> Availability:
    targets, expressions = [], []
    for queries, inventory_targets in (
            (SITES, [(site.id, site.url) for site in client.sites]),
            (SERVERS, [(server.id, server.address) for server in client.servers])):
        if not inventory_targets:
            continue
        month = MonthAvailability(prometheus, queries, client.id, period.start, at,
                                  period.timezone)
        expressions += month.expressions()
        found = month.by_target()
        days = _days_of(period, at)
        targets += [_target(queries.kind, target, address, found.get(target), days)
                    for target, address in inventory_targets]
    return Availability(prometheus.url, tuple(expressions), tuple(targets))


def _days_of(period: Period, at: dt.datetime) -> list[dt.date]:
    """The month's local days up to ``at``."""
    tz = ZoneInfo(period.timezone)
    day = period.start.astimezone(tz).date()
    last = (at - dt.timedelta(seconds=1)).astimezone(tz).date()
    days = []
    while day <= last:
        days.append(day)
        day += dt.timedelta(days=1)
    return days


def _target(kind: str, target: str, address: str, month, days: list[dt.date]
            ) -> TargetAvailability:
    measured = month.days if month else {}
    return TargetAvailability(
        kind, target, address, month.ratio if month else None,
        month.measured_minutes if month else None, month.downtime_minutes if month else None,
        tuple(_day(day, measured.get(day)) for day in days))


def _day(day: dt.date, minutes: tuple[float, float] | None) -> DayAvailability:
    if not minutes or not minutes[0]:
        return DayAvailability(day, None, None)
    measured, up = minutes
    return DayAvailability(day, up / measured, measured - up)


# --- tier 2: software, vulnerabilities, exposed files --------------------------------------------

def _security(prometheus: Prometheus, client: str, at: dt.datetime) -> Security:
    def values(metric: str) -> list[Sample]:
        return last_values(prometheus, metric, client, at)

    core_update = _by_site(values("owl_cms_core_update_available"), max)
    supported = _by_site(values("owl_cms_core_supported"), min)
    components = _by_site(values("owl_cms_component_update_available"), sum)
    software = [SiteSoftware(sample.labels.get("site", ""), sample.labels.get("cms"),
                             sample.labels.get("version") or None,
                             _flag(core_update.get(sample.labels.get("site"))),
                             _flag(supported.get(sample.labels.get("site"))),
                             _count(components.get(sample.labels.get("site"))))
                for sample in values("owl_cms_info") if sample.value]
    vulnerabilities = [Vulnerability(s.labels.get("site", ""), s.labels.get("component", ""),
                                     s.labels.get("id", ""), s.labels.get("severity", ""),
                                     s.labels.get("known_exploited") == "true")
                       for s in values("owl_cms_vulnerability_info") if s.value]
    exposed = [ExposedFile(s.labels.get("site", ""), s.labels.get("path", ""))
               for s in values("owl_site_exposed_file") if s.value]
    return Security(tuple(sorted(software, key=lambda row: row.site)),
                    tuple(sorted(vulnerabilities, key=lambda v: (v.site, v.component, v.id))),
                    tuple(sorted(exposed, key=lambda f: (f.site, f.path))))


def _by_site(samples: list[Sample], combine) -> dict[str, float]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        grouped[sample.labels.get("site", "")].append(sample.value)
    return {site: combine(found) for site, found in grouped.items()}


def _flag(value: float | None) -> bool | None:
    return None if value is None else bool(value)


def _count(value: float | None) -> int | None:
    return None if value is None else int(value)


# --- tier 3: backups and the checkout path -------------------------------------------------------

BACKUP = ("server", "backup")


def _operations(prometheus: Prometheus, client: str, start: dt.datetime,
                at: dt.datetime) -> Operations:
    def by_backup(metric: str) -> dict[tuple[str, str], float]:
        return {tuple(s.labels.get(label, "") for label in BACKUP): s.value
                for s in last_values(prometheus, metric, client, at)}

    snapshots = last_values(prometheus, "owl_backup_last_snapshot_timestamp_seconds", client, at)
    fields = {name: by_backup(f"owl_backup_{name}") for name in (
        "policy_period_seconds", "policy_grace_seconds", "last_check_timestamp_seconds",
        "check_success", "policy_check_period_seconds", "last_restore_test_timestamp_seconds",
        "restore_test_success", "policy_restore_test_period_seconds")}
    backups = [_backup(sample, fields) for sample in snapshots]
    return Operations(tuple(sorted(backups, key=lambda b: (b.server, b.backup))),
                      _checkouts(prometheus, client, start, at))


def _backup(snapshot: Sample, fields: dict[str, dict]) -> BackupState:
    key = tuple(snapshot.labels.get(label, "") for label in BACKUP)

    def get(name: str) -> float | None:
        return fields[name].get(key)

    return BackupState(
        server=key[0], backup=key[1], tool=snapshot.labels.get("tool", ""),
        last_snapshot=_time(snapshot.value), period=_seconds(get("policy_period_seconds")),
        grace=_seconds(get("policy_grace_seconds")),
        last_check=_time(get("last_check_timestamp_seconds")),
        check_success=_flag(get("check_success")),
        check_period=_seconds(get("policy_check_period_seconds")),
        last_restore_test=_time(get("last_restore_test_timestamp_seconds")),
        restore_test_success=_flag(get("restore_test_success")),
        restore_test_period=_seconds(get("policy_restore_test_period_seconds")))


def _checkouts(prometheus: Prometheus, client: str, start: dt.datetime,
               at: dt.datetime) -> tuple[CheckoutState, ...]:
    ratios = _by_site(month_ratio(prometheus, "owl_shop_checkout_success", client, start, at),
                      min)
    last = _by_site(last_values(prometheus, "owl_shop_checkout_success", client, at), min)
    failing: dict[str, list[str]] = defaultdict(list)
    for sample in last_values(prometheus, "owl_shop_step_success", client, at):
        if not sample.value:
            failing[sample.labels.get("site", "")].append(sample.labels.get("step", ""))
    return tuple(CheckoutState(site, ratios.get(site), _flag(last.get(site)),
                               tuple(sorted(failing.get(site, ()))))
                 for site in sorted(set(ratios) | set(last)))


def _time(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.timezone.utc)


def _seconds(value: float | None) -> dt.timedelta | None:
    return None if value is None else dt.timedelta(seconds=value)
