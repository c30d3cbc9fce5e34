"""Prometheus' figures of a client's month, read through its HTTP API (``/api/v1/query``).

The month's availability is asked with the client dashboard's own expressions, taken from the
committed dashboards (``Availability this month``, ``Downtime this month``) with ``$__range``
set to the month, so that the report and the dashboard cannot disagree. The daily figures add
up the same per-minute samples (``client_site:availability:ratio_1m``) day by day. The probes'
facts (CMS, vulnerabilities, backups, checkout) are read as of the month's end.

The HTTP API is small enough that plain ``requests`` serves it; the PyPI clients of it bring
pandas and matplotlib along.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import requests

from dashboards.queries import expand, load_dashboards, panel_queries, prometheus_duration

TIMEOUT_SECONDS = 30.0
# The facts of the probes as of the month's end: the last value in its last hours, so that a
# scrape or two missed at midnight does not blank them.
LAST_SEEN = "6h"


class PrometheusError(RuntimeError):
    """Prometheus could not answer; the message says which address and why."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value)


class Prometheus:
    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def instant(self, expr: str, at: dt.datetime) -> list[Sample]:
        """An instant vector; a range-vector expression is refused (use :meth:`samples`)."""
        data = self._query(expr, at)
        if data["resultType"] != "vector":
            raise PrometheusError(f"{expr!r} gave a {data['resultType']}, not a vector")
        return [Sample(row["metric"], float(row["value"][1])) for row in data["result"]]

    def samples(self, expr: str, at: dt.datetime) -> list[Series]:
        """The raw samples of a range-vector selector such as ``metric{...}[31d]``."""
        data = self._query(expr, at)
        if data["resultType"] != "matrix":
            raise PrometheusError(f"{expr!r} gave a {data['resultType']}, not a matrix")
        return [Series(row["metric"], tuple((float(t), float(v)) for t, v in row["values"]))
                for row in data["result"]]

    def _query(self, expr: str, at: dt.datetime) -> dict:
        try:
            response = requests.get(f"{self.url}/api/v1/query", timeout=self.timeout,
                                    params={"query": expr, "time": f"{at.timestamp():.3f}"})
        except requests.RequestException as exc:
            raise PrometheusError(f"Prometheus at {self.url} did not answer: "
                                  f"{exc.__class__.__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"Prometheus at {self.url} refused {expr!r}: HTTP "
                                  f"{response.status_code} {body.get('error', '')}".rstrip())
        return body["data"]


# --- the month's availability ------------------------------------------------------------------

@dataclass(frozen=True)
class AvailabilityQueries:
    """The dashboard's expressions for one kind of target."""

    kind: str  # "site" | "server"
    label: str  # the target's label in the series
    dashboard: str
    ratio_panel: str
    downtime_panel: str
    per_minute: str  # the recording rule both panels read


SITES = AvailabilityQueries("site", "site", "client-overview.json", "Availability this month",
                            "Downtime this month", "client_site:availability:ratio_1m")
SERVERS = AvailabilityQueries("server", "server", "servers.json", "Availability this month",
                              "Downtime this month", "client_server:availability:ratio_1m")


def _panel_expr(dashboard: str, title: str) -> str | None:
    found = [query.expr for query in panel_queries(dashboard, load_dashboards()[dashboard])
             if query.panel == title]
    return found[0] if found else None


@dataclass(frozen=True)
class TargetMonth:
    ratio: float | None
    measured_minutes: float | None
    downtime_minutes: float | None
    days: dict[dt.date, tuple[float, float]]  # day -> (measured minutes, minutes up)


class MonthAvailability:
    """One client's month of one kind of target, as the dashboard computes it."""

    def __init__(self, prometheus: Prometheus, queries: AvailabilityQueries, client: str,
                 start: dt.datetime, end: dt.datetime, timezone: str):
        self.prometheus = prometheus
        self.queries = queries
        self.values = {"client": client, queries.label: ".*",
                       "__range": prometheus_duration((end - start).total_seconds())}
        self.client = client
        self.start, self.end = start, end
        self.tz = ZoneInfo(timezone)

    def expressions(self) -> list[str]:
        """The panels' PromQL as sent, or none when the dashboard has no such panel."""
        found = [_panel_expr(self.queries.dashboard, title)
                 for title in (self.queries.ratio_panel, self.queries.downtime_panel)]
        return [expand(expr, self.values) for expr in found if expr]

    def by_target(self) -> dict[str, TargetMonth]:
        expressions = self.expressions()
        if len(expressions) != 2:
            return {}
        ratios = self._by_label(self.prometheus.instant(expressions[0], self.end))
        downtimes = self._by_label(self.prometheus.instant(expressions[1], self.end))
        days = self._days()
        targets = set(ratios) | set(downtimes) | set(days)
        return {target: TargetMonth(ratios.get(target), self._measured(days.get(target)),
                                    downtimes.get(target), days.get(target, {}))
                for target in targets}

    def _by_label(self, samples: list[Sample]) -> dict[str, float]:
        return {sample.labels.get(self.queries.label, ""): sample.value for sample in samples}

    def _days(self) -> dict[str, dict[dt.date, tuple[float, float]]]:
        """Per target and local day: minutes measured and minutes up, from the samples."""
        selector = (f'{self.queries.per_minute}{{client="{self.client}"}}'
                    f'[{self.values["__range"]}]')
        found: dict[str, dict[dt.date, list[float]]] = defaultdict(
            lambda: defaultdict(lambda: [0.0, 0.0]))
        for series in self.prometheus.samples(selector, self.end):
            target = series.labels.get(self.queries.label, "")
            for at, value in series.points:
                day = dt.datetime.fromtimestamp(at, self.tz).date()
                found[target][day][0] += 1
                found[target][day][1] += value
        return {target: {day: (measured, up) for day, (measured, up) in days.items()}
                for target, days in found.items()}

    @staticmethod
    def _measured(days: dict[dt.date, tuple[float, float]] | None) -> float | None:
        return sum(measured for measured, _ in days.values()) if days else None


def last_values(prometheus: Prometheus, metric: str, client: str, at: dt.datetime
                ) -> list[Sample]:
    """``metric``'s series of ``client`` as they stood at ``at``."""
    return prometheus.instant(f'last_over_time({metric}{{client="{client}"}}[{LAST_SEEN}])', at)


def month_ratio(prometheus: Prometheus, metric: str, client: str, start: dt.datetime,
                end: dt.datetime) -> list[Sample]:
    """The average of ``metric`` (a 0/1 success) over the month, per series of ``client``."""
    span = prometheus_duration((end - start).total_seconds())
    return prometheus.instant(f'avg_over_time({metric}{{client="{client}"}}[{span}])', end)
