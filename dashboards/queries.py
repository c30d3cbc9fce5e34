"""The PromQL of the committed dashboards, as Grafana would send it to Prometheus.

Grafana replaces ``$name`` / ``${name}`` / ``[[name]]`` in a query with the variable's value before
it queries Prometheus, and ``$__range`` (the panel's range), ``$__interval`` and
``$__rate_interval`` with durations. :func:`expand` does the same, so the tests can run every
panel's query on a real Prometheus and check what Grafana would show.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from importlib import resources
from zoneinfo import ZoneInfo

VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
BUILT_IN = {"__range", "__range_s", "__range_ms", "__interval", "__interval_ms",
            "__rate_interval"}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # file name
    panel: str  # panel title
    ref: str
    expr: str
    instant: bool
    time_from: str | None  # panel's relative time ("now/M"), if it overrides the dashboard's
    time_shift: str | None

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.panel} [{self.ref}]"


def load_dashboards() -> dict[str, dict]:
    """Every ``dashboards/*.json``, by file name."""
    folder = resources.files("dashboards")
    return {item.name: json.loads(item.read_text(encoding="utf-8"))
            for item in sorted(folder.iterdir(), key=lambda item: item.name)
            if item.name.endswith(".json")}


def panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows included; rows themselves are not panels."""
    found = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def panel_queries(name: str, dashboard: dict) -> list[PanelQuery]:
    return [PanelQuery(name, panel["title"], target["refId"], target["expr"],
                       bool(target.get("instant")), panel.get("timeFrom"), panel.get("timeShift"))
            for panel in panels(dashboard) for target in panel.get("targets", [])]


STRING = r'"(?:[^"\\]|\\.)*"'
BRACES = re.compile(r"\{(?:[^}\"]|" + STRING + r")*\}")
SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)?\s*(" + BRACES.pattern + ")")
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, matchers) of every series selector of ``expr``; a bare metric name has ``""``."""
    found = [(match.group(1) or "", match.group(2)) for match in SELECTOR.finditer(expr)]
    rest = SELECTOR.sub(" ", expr)
    rest = GROUPING.sub(" ", rest)
    rest = re.sub(STRING, " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)  # ranges and subqueries: [1d], [5m:1m]
    rest = re.sub(r"\b\d+(\.\d+)?([smhdwy]|ms)?\b", " ", rest)
    found += [(name, "") for name in IDENTIFIER.findall(rest) if name.lower() not in KEYWORDS]
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (``__name__`` matchers aside)."""
    return {metric for metric, _ in selectors(expr) if metric}


def variables_used(text: str) -> set[str]:
    return {next(group for group in match.groups() if group) for match in VARIABLE.finditer(text)}


def expand(text: str, values: dict[str, str]) -> str:
    """``text`` with every variable replaced by its value in ``values`` (KeyError if missing)."""
    def value(match: re.Match) -> str:
        return values[next(group for group in match.groups() if group)]
    return VARIABLE.sub(value, text)


def prometheus_duration(seconds: float) -> str:
    return f"{max(int(seconds), 1)}s"


def month_start(now: dt.datetime, timezone: str) -> dt.datetime:
    """Midnight on the 1st of ``now``'s month in ``timezone`` (Grafana's ``now/M``)."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def panel_range(query: PanelQuery, dashboard: dict, now: dt.datetime
                ) -> tuple[dt.datetime, dt.datetime]:
    """The time range Grafana queries for this panel, for a "now"-relative dashboard range and
    the current month (``month`` = ``0d``): ``now/M`` or ``now-<duration>`` to now."""
    relative = query.time_from or dashboard["time"]["from"]
    if relative == "now/M":
        return month_start(now, dashboard.get("timezone") or "UTC"), now
    match = re.fullmatch(r"now-(\d+)([smhd])", relative)
    if not match:
        raise ValueError(f"{query.name}: cannot evaluate the time range {relative!r}")
    size = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return now - dt.timedelta(seconds=size), now
