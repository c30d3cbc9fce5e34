"""``prometheus/rules/generated.yml``: recording rules that only the inventory can write.

PromQL has no timezone: ``month()`` and ``day_of_month()`` work in UTC only, so "the calendar month
in Europe/Paris" cannot be computed by Prometheus. The render computes it instead, for the years it
covers (this year and the next, like the holidays of the Alertmanager configuration), and writes:

- ``owl:calendar_month:info{month="YYYY-MM", timezone}`` = 1 while that month runs in the
  provider's timezone, from local midnight of the 1st to local midnight of the next 1st (UTC
  bounds computed with ``zoneinfo``: a month with a DST change is 743 or 745 hours long). Exactly
  one such series exists at any time; the availability rules (``alert_rules/availability.yml``)
  label their per-minute samples with it, so that a month's samples can be told apart without a
  range that PromQL could not express;
- ``owl:generated_calendar_end:timestamp_seconds``: where the generated months (and the holidays
  of the Alertmanager configuration) end; alert ``OwlCalendarEndingSoon`` says when to re-render.

Nothing here is per client, so the rule count does not grow with the inventory: when monitoring
of a client ends comes from the bridge (``owl_client_monitoring_end_timestamp_seconds``), how
often each probe runs from the owl exporter (``owl_probe_interval_seconds``).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from owl.inventory import Inventory
from owl.render.prometheus import RULES_DIR
from owl.render.serialize import GENERATED_HEADER, to_yaml

RULES_PATH = f"{RULES_DIR}/generated.yml"


def render_generated_rules(inventory: Inventory, today: dt.date) -> dict[str, str]:
    return {RULES_PATH: to_yaml(generated_rules(inventory, [today.year, today.year + 1]))
            .replace(GENERATED_HEADER, GENERATED_HEADER + HEADER, 1)}


HEADER = """\
# Calendar months in the provider's timezone, as recording rules: see
# owl/render/generated_rules.py.
"""


def generated_rules(inventory: Inventory, years: list[int]) -> dict:
    timezone = inventory.provider.timezone
    return {"groups": [
        {"name": "owl-generated-calendar", "rules": calendar_rules(timezone, years)},
    ]}


def month_bounds(timezone: str, years: list[int]) -> list[tuple[str, int, int]]:
    """``("2025-03", start, end)`` for every month of ``years``: Unix times of the local
    midnights that open and close it."""
    tz = ZoneInfo(timezone)
    bounds = []
    for year in years:
        for month in range(1, 13):
            start = dt.datetime(year, month, 1, tzinfo=tz)
            end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
            bounds.append((f"{year:04d}-{month:02d}", int(start.timestamp()),
                           int(end.timestamp())))
    return bounds


def calendar_rules(timezone: str, years: list[int]) -> list[dict]:
    bounds = month_bounds(timezone, years)
    rules = [{"record": "owl:calendar_month:info",
              "expr": f"vector(1) and (vector(time()) >= {start} < {end})",
              "labels": {"month": month, "timezone": timezone}}
             for month, start, end in bounds]
    rules.append({"record": "owl:generated_calendar_end:timestamp_seconds",
                  "expr": f"vector({bounds[-1][2]})", "labels": {"timezone": timezone}})
    return rules
