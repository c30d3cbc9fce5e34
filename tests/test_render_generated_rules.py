"""``prometheus/rules/generated.yml``: what only the inventory can tell Prometheus.

The calendar months are checked twice: their UTC bounds here, across DST changes; and the rules
themselves in the real ``promtool``, for 1970 (promtool's clock starts at the Unix epoch), where
the month changes at local midnight, an hour before midnight UTC.
"""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
import yaml

from owl.inventory import parse_inventory
from owl.render.generated_rules import (RULES_PATH, generated_rules, month_bounds,
                                        render_generated_rules)
from tests.support.binaries import require_binary

UTC = dt.timezone.utc
INVENTORY = """
provider:
  name: OWL SYSTEMS
  probes:
    shop: {interval: 15m, by_tier: {4: 5m}}
clients:
  - {id: big, name: Big, contract: {tier: 4, monthly_fee: "3900.00", quote: Q1, start: 2024-01-01},
     sites: [{id: www, url: "https://big.example/"}]}
  - {id: leaving, name: Leaving, contract: {tier: 2, monthly_fee: "650.00", quote: Q2,
     start: 2024-01-01, status: terminated, terminated_on: 2025-08-31},
     sites: [{id: www, url: "https://leaving.example/"}]}
  - {id: trying, name: Trying, contract: {tier: 0, monthly_fee: "0.00", quote: Q3,
     start: 2025-07-01, status: trial}, servers: [{id: srv, address: 192.0.2.1}]}
  - {id: empty, name: Empty, contract: {tier: 1, monthly_fee: "100.00", quote: Q4,
     start: 2024-01-01}}
"""


def utc(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def rules_of(group_name: str, years=(2025, 2026)) -> list[dict]:
    document = generated_rules(parse_inventory(INVENTORY), list(years))
    return next(group["rules"] for group in document["groups"] if group["name"] == group_name)


@pytest.mark.parametrize("month, start, end, hours", [
    ("2025-01", "2024-12-31T23:00", "2025-01-31T23:00", 31 * 24),
    ("2025-03", "2025-02-28T23:00", "2025-03-31T22:00", 31 * 24 - 1),
    ("2025-07", "2025-06-30T22:00", "2025-07-31T22:00", 31 * 24),
    ("2025-10", "2025-09-30T22:00", "2025-10-31T23:00", 31 * 24 + 1),
    ("2025-12", "2025-11-30T23:00", "2025-12-31T23:00", 31 * 24),
], ids=["January starts at 23:00 UTC on New Year's Eve",
        "March loses the hour of the spring DST change",
        "July runs from 22:00 UTC to 22:00 UTC in summer time",
        "October gains the hour of the autumn DST change",
        "December ends at local midnight of New Year"])
def test_a_month_runs_from_local_midnight_of_the_1st_to_the_next(month, start, end, hours):
    bounds = {name: (first, last) for name, first, last in month_bounds("Europe/Paris", [2025])}
    assert bounds[month] == (utc(start), utc(end))
    assert (bounds[month][1] - bounds[month][0]) == hours * 3600


def test_months_of_this_year_and_the_next_follow_each_other_without_gap():
    bounds = month_bounds("Europe/Paris", [2025, 2026])
    assert [name for name, _, _ in bounds][:2] == ["2025-01", "2025-02"]
    assert len(bounds) == 24
    assert all(previous[2] == following[1] for previous, following in zip(bounds, bounds[1:]))


def test_the_calendar_rules_label_each_month_and_say_where_they_end():
    rules = rules_of("owl-generated-calendar")
    assert rules[6] == {"record": "owl:calendar_month:info",
                        "expr": "vector(1) and (vector(time()) >= 1751320800 < 1753999200)",
                        "labels": {"month": "2025-07", "timezone": "Europe/Paris"}}
    assert rules[-1] == {"record": "owl:generated_calendar_end:timestamp_seconds",
                         "expr": f"vector({utc('2026-12-31T23:00')})",
                         "labels": {"timezone": "Europe/Paris"}}


def test_monitoring_ends_at_local_midnight_of_the_termination_day_or_the_trial_end():
    assert rules_of("owl-generated-contracts") == [
        {"record": "owl:client_monitoring_end:timestamp_seconds",
         "expr": f"vector({utc('2025-08-30T22:00')})", "labels": {"client": "leaving"}},
        {"record": "owl:client_monitoring_end:timestamp_seconds",
         "expr": f"vector({utc('2025-07-31T22:00')})", "labels": {"client": "trying"}},
    ]


def test_probe_intervals_follow_the_inventory_schedules_at_each_client_s_tier():
    intervals = {(rule["labels"]["client"], rule["labels"]["probe"]): rule["expr"]
                 for rule in rules_of("owl-generated-probe-schedules")}
    assert intervals[("big", "shop")] == "vector(300)"
    assert intervals[("leaving", "shop")] == "vector(900)"
    assert intervals[("trying", "cms")] == "vector(21600)"
    assert intervals[("big", "domain")] == "vector(86400)"
    assert {client for client, _ in intervals} == {"big", "leaving", "trying"}  # empty: no target


def test_the_render_writes_this_year_and_the_next_under_a_header():
    [(path, text)] = render_generated_rules(parse_inventory(INVENTORY),
                                            dt.date(2025, 7, 15)).items()
    assert path == RULES_PATH == "prometheus/rules/generated.yml"
    assert text.startswith("# Generated by `owl config render`")
    months = [rule["labels"]["month"] for rule in yaml.safe_load(text)["groups"][0]["rules"]
              if rule["record"] == "owl:calendar_month:info"]
    assert (months[0], months[-1]) == ("2025-01", "2026-12")


PROMTOOL_TEST = """
rule_files: [generated.yml]
evaluation_interval: 1h
tests:
  - interval: 1h
    promql_expr_test:
      - expr: owl:calendar_month:info
        eval_time: 742h  # 1970-01-31 22:00 UTC, 23:00 in Paris
        exp_samples:
          - labels: 'owl:calendar_month:info{month="1970-01", timezone="Europe/Paris"}'
            value: 1
      - expr: owl:calendar_month:info
        eval_time: 743h  # 1970-01-31 23:00 UTC, midnight of 1 February in Paris
        exp_samples:
          - labels: 'owl:calendar_month:info{month="1970-02", timezone="Europe/Paris"}'
            value: 1
      - expr: count(owl:calendar_month:info)
        eval_time: 500h
        exp_samples:
          - labels: '{}'
            value: 1
      - expr: owl:generated_calendar_end:timestamp_seconds
        eval_time: 0h
        exp_samples:
          - labels: 'owl:generated_calendar_end:timestamp_seconds{timezone="Europe/Paris"}'
            value: 31532400
"""


def test_in_prometheus_the_month_changes_at_local_midnight(tmp_path):
    document = generated_rules(parse_inventory(INVENTORY), [1970])
    (tmp_path / "generated.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    (tmp_path / "test.yml").write_text(PROMTOOL_TEST, encoding="utf-8")
    result = subprocess.run([require_binary("promtool"), "test", "rules", "test.yml"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
