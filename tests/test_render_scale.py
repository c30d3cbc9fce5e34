"""The render's output grows with the inventory only where the work does: targets and the
Alertmanager routes of each client, never the Prometheus rules (issue 15: 25,000 probe-schedule
rules at 5,000 clients before)."""

from __future__ import annotations

import datetime as dt

import yaml

from owl.inventory import parse_inventory
from owl.render import RenderOptions, render

TODAY = dt.date(2025, 7, 15)


def generated_inventory(clients: int) -> str:
    """``clients`` clients of every tier and status, each with two sites and a server."""
    lines = ["provider:", "  name: OWL SYSTEMS", "clients:"]
    for number in range(clients):
        tier = number % 5
        status = ("status: trial" if tier == 0 else
                  "status: terminated, terminated_on: 2025-12-31" if number % 7 == 0 else
                  "status: active")
        lines += [
            f"  - id: c{number}",
            f"    name: Client {number}",
            f"    contract: {{tier: {tier}, monthly_fee: \"100.00\", quote: Q{number}, "
            f"start: 2025-07-01, {status}}}",
            f"    sites: [{{id: www, url: \"https://www.c{number}.example/\", cms: wordpress}},",
            f"            {{id: shop, url: \"https://shop.c{number}.example/\"}}]",
            f"    servers: [{{id: web1, address: 10.0.{number // 250}.{number % 250},",
            f"               node_exporter: \"10.0.{number // 250}.{number % 250}:9100\"}}]",
        ]
    return "\n".join(lines) + "\n"


def rule_count(clients: int, tmp_path) -> int:
    files = render(parse_inventory(generated_inventory(clients)),
                   RenderOptions(tmp_path / str(clients), TODAY))
    return sum(len(group["rules"]) for path, text in files.items()
               if path.startswith("prometheus/rules/")
               for group in yaml.safe_load(text)["groups"])


def test_the_prometheus_rules_are_as_many_for_100_clients_as_for_10_000(tmp_path):
    assert rule_count(10_000, tmp_path) == rule_count(100, tmp_path)
