"""Prometheus keeps what the stack reads: the retention that ``owl up`` and the compose render give
it covers the longest range that any rule (the alert_rules package and the render's generated
rules) or any dashboard panel reads back, and the inventory refuses a shorter one.

How far back a PromQL expression reads is scanned here with regular expressions over its
durations, not parsed: the maintained parser on PyPI (promql-parser, Rust bindings) is not a
dependency of the package. The scanner blanks strings and comments, then takes every ``[range]``,
``[range:step]`` subquery and ``offset``; a subquery adds its range and offset to everything in the
parenthesised expression it applies to. A bracket it cannot read, or an ``@`` modifier, is an
error rather than a range of zero.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from dashboards.queries import (
    PanelQuery,
    expand,
    load_dashboards,
    panel_queries,
    variables_used,
)
from owl_commands import stack
from owl.inventory import InventoryError, load_inventory, parse_inventory
from owl.render import RenderOptions, render
from owl.render.prometheus import FLAGS_PATH, RULES_DIR
from owl.tsdb_retention import DEFAULT, MINIMUM, parse_retention
from tests.test_dashboards_live import variable_values

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "inventory.yml"
TODAY = dt.date(2025, 7, 15)
RETENTION_FLAG = "--storage.tsdb.retention.time="

LOOKBACK_DELTA = dt.timedelta(minutes=5)  # how far back Prometheus looks for an instant sample
UNITS = {"ms": dt.timedelta(milliseconds=1), "s": dt.timedelta(seconds=1),
         "m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1),
         "w": dt.timedelta(weeks=1), "y": dt.timedelta(days=365)}
DURATION = r"(?:\d+(?:ms|[smhdwy]))+"
STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`|#[^\n]*')
BRACKET = re.compile(rf"\[\s*(?P<range>{DURATION})\s*(?P<subquery>:\s*(?:{DURATION})?\s*)?\]"
                     rf"(?:\s*offset\s+(?P<offset>-?{DURATION}))?", re.IGNORECASE)
OFFSET = re.compile(rf"\boffset\s+(?P<offset>-?{DURATION})", re.IGNORECASE)
# Grafana's relative times and time shifts: a month is taken as 31 days, a year as 366.
GRAFANA_UNITS = {**UNITS, "M": dt.timedelta(days=31), "y": dt.timedelta(days=366)}
GRAFANA_TIME = re.compile(r"(?:now-)?(\d+)([smhdwMy])(?:/[smhdwMy])?")


def duration(text: str, units: dict = UNITS) -> dt.timedelta:
    sign = -1 if text.startswith("-") else 1
    return sign * sum((int(count) * units[unit]
                       for count, unit in re.findall(r"(\d+)(ms|[smhdwyM])", text)),
                      dt.timedelta())


def code_of(expr: str) -> str:
    """``expr`` with its strings and comments blanked, so that only PromQL syntax is left."""
    return STRING_OR_COMMENT.sub(lambda match: " " * len(match.group()), expr)


def opening_parenthesis(code: str, closing: int) -> int:
    depth = 0
    for index in range(closing, -1, -1):
        depth += {")": 1, "(": -1}.get(code[index], 0)
        if depth == 0:
            return index
    raise ValueError(f"unbalanced parentheses in {code!r}")


def subject_start(code: str, bracket: int) -> int:
    """Where the expression a ``[...]`` applies to starts: its parenthesised group, if any."""
    before = code[:bracket].rstrip()
    return opening_parenthesis(code, len(before) - 1) if before.endswith(")") else bracket


def lookback(expr: str) -> dt.timedelta:
    """How long before its evaluation time ``expr`` reads samples from."""
    code = code_of(expr)
    if "@" in code:
        raise ValueError(f"an @ modifier reads at a fixed time: {expr!r}")
    leaves, subqueries, bracketed = [], [], []
    for match in BRACKET.finditer(code):
        offset = duration(match["offset"]) if match["offset"] else dt.timedelta()
        extent = duration(match["range"]) + offset
        bracketed.append(match.span())
        if match["subquery"] is None:
            leaves.append((match.start(), extent))
        else:  # its inner expression is evaluated up to `extent` back, then reads its own range
            subqueries.append((subject_start(code, match.start()), match.start(), extent))
            leaves.append((match.start(), extent + LOOKBACK_DELTA))
    if code.count("[") != len(bracketed):
        raise ValueError(f"a range that is not a duration in {expr!r}")
    leaves += [(match.start(), duration(match["offset"]) + LOOKBACK_DELTA)
               for match in OFFSET.finditer(code)
               if not any(start <= match.start() < end for start, end in bracketed)]
    return max([LOOKBACK_DELTA, *(extent + sum((outer for start, end, outer in subqueries
                                                if start <= position < end), dt.timedelta())
                                  for position, extent in leaves)])


# --- the scanner --------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, reads", [
    ('up{job="node"}', "5m"),
    ("avg_over_time(client_site:availability:ratio_1m[32d])", "32d"),
    ("count_over_time(x[32d]) - sum_over_time(x[32d])", "32d"),
    ('min_over_time(sum by (a) (x{job="n"})[31d:1h]) > 0', "31d5m"),
    ("max_over_time(rate(x[5m])[31d:1h] offset 1d)", "32d5m"),
    ("x offset 1w", "7d5m"),
    ("last_over_time(x[1h] offset 23h)", "1d"),
    ("present_over_time(x[1d] offset 1d)", "2d"),
    ("rate(x[1h30m])", "1h30m"),
    ('x{site=~"[a-z]+ offset 9y"} # [400d] in a comment', "5m"),
])
def test_the_scanner_finds_how_far_back_an_expression_reads(expr, reads):
    assert lookback(expr) == duration(reads)


@pytest.mark.parametrize("expr", ["rate(x[$__rate_interval])", "x @ 1700000000",
                                  "sum_over_time(x[5m] @ start())"])
def test_the_scanner_refuses_what_it_cannot_bound(expr):
    with pytest.raises(ValueError):
        lookback(expr)


# --- what the stack reads -----------------------------------------------------------------------

def longest_by_name(reads) -> dict[str, dt.timedelta]:
    """(name, read) pairs -> the longest read of each name (a name may have several rules)."""
    longest: dict[str, dt.timedelta] = {}
    for name, read in reads:
        longest[name] = max(read, longest.get(name, read))
    return longest


def rule_reads() -> dict[str, dt.timedelta]:
    """``file: rule`` -> how far back it reads, for every rule the render of the example writes."""
    inventory = load_inventory(EXAMPLE)
    files = render(inventory, RenderOptions(Path("rendered"), TODAY))
    return longest_by_name(
        (f"{path}: {rule.get('alert') or rule.get('record')}", lookback(str(rule["expr"])))
        for path, text in files.items() if path.startswith(f"{RULES_DIR}/")
        for group in yaml.safe_load(text)["groups"] for rule in group["rules"])


def span_of(query: PanelQuery, dashboard: dict) -> dt.timedelta:
    """The longest time range the panel can show with the dashboard's own time settings."""
    relative = query.time_from or dashboard["time"]["from"]
    if relative == "now/M":
        return GRAFANA_UNITS["M"]
    match = GRAFANA_TIME.fullmatch(relative)
    assert match, f"{query.name}: cannot bound the time range {relative!r}"
    return duration("".join(match.groups()), GRAFANA_UNITS)


def variable_options(dashboard: dict, name: str) -> list[str]:
    """The values of the custom variable ``name`` ("Text : value, ..." as Grafana writes it)."""
    [variable] = [variable for variable in dashboard["templating"]["list"]
                  if variable["name"] == name]
    assert variable["type"] == "custom", f"{name}: not a custom variable, its values are unbounded"
    return [option.split(" : ")[-1].strip() for option in variable["query"].split(",")]


def time_shifts(query: PanelQuery, dashboard: dict) -> list[dt.timedelta]:
    """Every time shift the panel can take: its own, under every value of its variable."""
    if not query.time_shift:
        return [dt.timedelta()]
    shifts = [query.time_shift]
    for name in variables_used(query.time_shift):
        shifts = [expand(shift, {name: value}) for shift in shifts
                  for value in variable_options(dashboard, name)]
    bounded = [GRAFANA_TIME.fullmatch(shift) for shift in shifts]
    assert all(bounded), f"{query.name}: cannot bound the time shifts {shifts}"
    return [duration("".join(match.groups()), GRAFANA_UNITS) for match in bounded]


def dashboard_reads() -> dict[str, dt.timedelta]:
    """``dashboard: panel [ref]`` -> how far back its query reads, at the oldest time it shows:
    its time shift, the range a time series panel draws, and the expression's own look-back with
    ``$__range`` (and the other variables) as Grafana sets them for that range."""
    reads = []
    end = dt.datetime(2025, 7, 31, 23, 59, tzinfo=dt.timezone.utc)
    for name, dashboard in load_dashboards().items():
        for query in panel_queries(name, dashboard):
            span = span_of(query, dashboard)
            expr = expand(query.expr, variable_values(query, end - span, end))
            drawn = dt.timedelta() if query.instant else span
            reads.append((query.name, max(time_shifts(query, dashboard)) + drawn + lookback(expr)))
    return longest_by_name(reads)


@pytest.fixture(scope="module")
def longest_read() -> tuple[str, dt.timedelta]:
    reads = {**rule_reads(), **dashboard_reads()}
    longest = max(reads, key=reads.get)
    return longest, reads[longest]


def test_the_minimum_retention_is_the_longest_range_the_rules_and_dashboards_read(longest_read):
    name, reads = longest_read
    assert MINIMUM == reads, f"{name} reads {reads} back; owl.tsdb_retention.MINIMUM is {MINIMUM}"


def test_a_month_long_dashboard_reads_a_month_back_and_the_sla_dashboard_its_six_past_months():
    reads = dashboard_reads()
    assert reads["client-overview.json: Availability this month [A]"] == dt.timedelta(days=31)
    assert reads["sla.json: Availability [A]"] == 7 * dt.timedelta(days=31)


def test_the_availability_rules_read_32_days_back():
    reads = rule_reads()
    assert reads["prometheus/rules/availability.yml: client_site:availability:ratio_month"] == \
        dt.timedelta(days=32)
    assert max(reads.values()) == dt.timedelta(days=32)


def test_owl_up_gives_prometheus_a_retention_covering_the_longest_read(tmp_path, longest_read):
    listed = stack.services(load_inventory(EXAMPLE), stack.StatePaths(tmp_path), EXAMPLE,
                            "127.0.0.1:9182", None)
    [prometheus] = [service.args for service in listed if service.name == "prometheus"]
    [retention] = [arg.removeprefix(RETENTION_FLAG) for arg in prometheus
                   if arg.startswith(RETENTION_FLAG)]
    assert retention == "400d"
    assert parse_retention(retention) >= longest_read[1]


@pytest.mark.parametrize("profile", ["local", "compose"])
def test_the_rendered_flags_file_gives_a_retention_covering_the_longest_read(profile,
                                                                              longest_read):
    options = RenderOptions(Path("rendered"), TODAY, profile=profile)
    lines = render(load_inventory(EXAMPLE), options)[FLAGS_PATH].splitlines()
    flags = [line for line in lines if not line.startswith("#")]
    assert flags == [f"{RETENTION_FLAG}400d"]
    assert parse_retention(flags[0].removeprefix(RETENTION_FLAG)) >= longest_read[1]


# --- the inventory's provider.stack.retention ---------------------------------------------------

def with_retention(value: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    text, count = re.subn(r"(?m)^    retention: .*$", f"    retention: {value}", text)
    assert count == 1
    return text


@pytest.mark.parametrize("value, days", [("400d", 400), ("1y", 365), ("31w", 217),
                                         ("5208h", 217), ("1y2w3d", 382)])
def test_the_retention_is_a_prometheus_duration(value, days):
    inventory = parse_inventory(with_retention(value), "inventory.yml")
    assert inventory.provider.stack.retention == dt.timedelta(days=days)


def test_the_retention_defaults_to_400_days():
    text = re.sub(r"(?m)^    retention: .*\n(^ {36}#.*\n)*", "", EXAMPLE.read_text())
    assert "retention:" not in text.split("probes:")[0]
    assert parse_inventory(text).provider.stack.retention == DEFAULT == dt.timedelta(days=400)


@pytest.mark.parametrize("value, problem", [
    ("30d", "'30d' is shorter than 217d, how far back the month-based rules and dashboards read"),
    ("216d23h", "is shorter than 217d"),
    ("400 days", "'400 days' is not a Prometheus duration"),
    ("1d1y", "'1d1y' is not a Prometheus duration"),
    ("9" * 30 + "y", "is longer than a duration can be"),
])
def test_a_retention_shorter_than_the_stack_reads_or_not_a_duration_is_refused_naming_the_field(
        value, problem):
    with pytest.raises(InventoryError) as refused:
        parse_inventory(with_retention(value), "inventory.yml")
    [line] = refused.value.problems
    assert line.startswith("inventory.yml:") and "provider.stack.retention: " in line
    assert problem in line
