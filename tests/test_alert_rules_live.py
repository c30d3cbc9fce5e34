"""The alert rules on real metrics: the real Prometheus loads every rendered rule file and
evaluates it against the real blackbox_exporter, node_exporter (with a textfile collector
directory), owl exporter and SLA bridge, probing fixture sites on 127.0.0.1.

This checks the wiring (metric and label names, joins on the contracts, the generated rules), not
the timings: promtool's unit tests do that. Alerts are looked at as soon as they are pending; only
SiteDown (``for: 1m``) is waited for until it fires, and the per-minute availability sample meanwhile.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml

from owl.inventory import parse_inventory
from owl.render import RenderOptions, render, write_rendered
from sla_bridge.app import BridgeConfig, create_app
from tests.fixtures.sites.support import serving as serving_site
from tests.support.alertmanager import serving
from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http, wait_until

PORTS = ("prometheus", "alertmanager", "blackbox", "exporter", "bridge", "node", "closed")


def inventory_text(ports: dict, sites: dict, today: dt.date) -> str:
    clients = [
        {"id": "demo", "name": "Demo", "contract": {
            "tier": 3, "monthly_fee": "1200.00", "support_24_7": True, "quote": "Q1",
            "start": dt.date(2025, 1, 1)},
         "sites": [{"id": "shop", "url": sites["healthy"], "cms": "wordpress"},
                   {"id": "blog", "url": sites["static"], "cms": "wordpress"},
                   {"id": "down", "url": sites["down"], "cms": "other"}],
         "servers": [{"id": "web1", "address": "127.0.0.1", "ssh_port": None,
                      "node_exporter": f"127.0.0.1:{ports['node']}"},
                     {"id": "gone1", "address": "127.0.0.1", "ssh_port": ports["closed"],
                      "node_exporter": f"127.0.0.1:{ports['closed']}"}]},
        # terminated yesterday, rendered before: its targets are still scraped
        {"id": "oldco", "name": "Old Co", "contract": {
            "tier": 1, "monthly_fee": "300.00", "quote": "Q2", "start": dt.date(2024, 1, 1),
            "status": "terminated", "terminated_on": today - dt.timedelta(days=1)},
         "sites": [{"id": "www", "url": sites["down"]}]},
        # a trial that ended 10 days ago or so, rendered while it ran
        {"id": "lapsed", "name": "Lapsed", "contract": {
            "tier": 0, "monthly_fee": "0.00", "quote": "Q3", "status": "trial",
            "start": today - dt.timedelta(days=40)},
         "sites": [{"id": "www", "url": sites["down"]}]},
    ]
    provider = {"name": "OWL SYSTEMS", "stack": {
        "prometheus": f"127.0.0.1:{ports['prometheus']}",
        "alertmanager": f"127.0.0.1:{ports['alertmanager']}",
        "blackbox_exporter": f"127.0.0.1:{ports['blackbox']}",
        "exporter": f"127.0.0.1:{ports['exporter']}", "bridge": f"127.0.0.1:{ports['bridge']}",
        "scrape_interval": "1s", "evaluation_interval": "1s"}}
    return yaml.safe_dump({"provider": provider, "clients": clients}, sort_keys=False)


APT_TEXTFILE = """\
# HELP apt_upgrades_pending Apt packages pending updates by origin.
# TYPE apt_upgrades_pending gauge
apt_upgrades_pending{origin="Debian:bookworm/stable",arch="amd64"} 3
# HELP node_reboot_required Node reboot is required for software updates.
# TYPE node_reboot_required gauge
node_reboot_required 1
"""


def query(base: str, expr: str) -> list[dict]:
    response = requests.get(f"{base}/api/v1/query", params={"query": expr}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["data"]["result"]


def alerts(base: str) -> dict[tuple, str]:
    """(alertname, client, site or server) -> state, of the alerts pending or firing now."""
    response = requests.get(f"{base}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return {(a["labels"]["alertname"], a["labels"].get("client"),
             a["labels"].get("site") or a["labels"].get("server")): a["state"]
            for a in response}


def rule_errors(base: str) -> list[str]:
    groups = requests.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
    return [f"{group['file']} {rule['name']}: {rule['lastError']}" for group in groups
            for rule in group["rules"] if rule.get("lastError")]


@pytest.fixture
def binaries() -> dict[str, str]:
    return {name: require_binary(name) for name in
            ("prometheus", "prometheus-blackbox-exporter", "prometheus-node-exporter")}


def test_the_rules_fire_on_real_metrics_for_monitored_contracts_only(tmp_path: Path, binaries):
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    (textfiles / "apt.prom").write_text(APT_TEXTFILE, encoding="utf-8")
    with serving_site("wordpress-6.8.1") as healthy, serving_site("not-wordpress") as static, \
            serving_site("wordpress-6.8.1") as down:
        # chosen once the sites listen: a site's ephemeral port cannot be one of them
        ports = {name: free_port() for name in PORTS}
        down.status = 503
        text = inventory_text(ports, {"healthy": healthy.url, "static": static.url,
                                      "down": down.url}, today)
        (tmp_path / "inventory.yml").write_text(text, encoding="utf-8")
        inventory = parse_inventory(text)
        out = tmp_path / "out"
        # rendered while every contract still ran: the rules, not the targets, must leave the
        # ended ones out
        options = RenderOptions(out, today - dt.timedelta(days=35),
                                webhook_token_file=tmp_path / "token",
                                scrape_token_file=tmp_path / "scrape-token")
        (tmp_path / "token").write_text("token\n", encoding="utf-8")
        (tmp_path / "scrape-token").write_text("scrape-token\n", encoding="utf-8")
        write_rendered(render(inventory, options), out)
        bridge = create_app(BridgeConfig(f"sqlite:///{tmp_path / 'bridge.db'}", inventory,
                                         "token", scrape_token="scrape-token"))
        prometheus = f"http://127.0.0.1:{ports['prometheus']}"
        with serving(bridge, ports["bridge"]), \
                running([binaries["prometheus-blackbox-exporter"],
                         f"--config.file={out / 'blackbox' / 'blackbox.yml'}",
                         f"--web.listen-address=127.0.0.1:{ports['blackbox']}"],
                        tmp_path / "blackbox.log"), \
                running([binaries["prometheus-node-exporter"],
                         f"--web.listen-address=127.0.0.1:{ports['node']}",
                         f"--collector.textfile.directory={textfiles}"],
                        tmp_path / "node.log"), \
                running([sys.executable, "-m", "owl_commands.cli", "exporter", "--inventory",
                         str(tmp_path / "inventory.yml"), "--web.listen-address",
                         f"127.0.0.1:{ports['exporter']}"], tmp_path / "exporter.log"), \
                running([binaries["prometheus"],
                         f"--config.file={out / 'prometheus' / 'prometheus.yml'}",
                         f"--storage.tsdb.path={tmp_path / 'data'}",
                         f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
                        tmp_path / "prometheus.log") as process:
            wait_for_http(f"{prometheus}/-/ready", process=process,
                          ok=lambda response: response.status_code == 200)
            expected_early = {("Watchdog", None, None), ("SiteDown", "demo", "down"),
                              ("ServerUnreachable", "demo", "gone1"),
                              ("TargetDown", "demo", "gone1"), ("CmsNotRecognised", "demo", "blog")}
            early = wait_until(lambda: (found := alerts(prometheus)).keys() >= expected_early
                               and found, timeout=30, interval=0.5,
                               message=f"{sorted(expected_early)} pending or firing")
            wait_until(lambda: alerts(prometheus).get(("SiteDown", "demo", "down")) == "firing",
                       timeout=80, interval=1, message="SiteDown firing after its minute")
            availability = wait_until(
                lambda: query(prometheus, "client_site:availability:ratio_1m"), timeout=30,
                interval=1, message="the per-minute availability samples")
            late = alerts(prometheus)
            errors = rule_errors(prometheus)
            contracts = query(prometheus, "owl:client_contract:monitored")
            ended_down = query(prometheus, 'probe_success{client=~"oldco|lapsed"} == 0')
            ended_contracts = query(prometheus, 'owl_client_contract_info{client=~"oldco|lapsed"}')
            node = query(prometheus, 'apt_upgrades_pending{job="node", server="web1"}')

    assert errors == []
    assert {sample["metric"]["client"] for sample in contracts} == {"demo"}
    # the ended contracts' sites are still scraped and down, and the bridge still lists them
    # (terminated, and a trial it still calls "trial"): the generated contract ends leave them out
    assert {sample["metric"]["client"] for sample in ended_down} == {"oldco", "lapsed"}
    assert {(s["metric"]["client"], s["metric"]["status"]) for s in ended_contracts} == {
        ("oldco", "terminated"), ("lapsed", "trial")}
    assert node and node[0]["metric"]["client"] == "demo"
    # nothing for the ended contracts, though their site is down too
    assert not {key for key in {**early, **late} if key[1] in ("oldco", "lapsed")}
    # nothing that should not be: the stack is complete, the contracts known, web1 reports its
    # pending updates, the healthy site is recognised
    assert not {key for key in late if key[0] in (
        "OwlScrapeJobMissing", "OwlContractsUnknown", "OwlCalendarRulesMissing",
        "OsUpdateCollectorMissing", "OwlBridgeDown", "OwlExporterDown", "BlackboxExporterDown")}
    assert ("CmsNotRecognised", "demo", "shop") not in late
    assert late[("Watchdog", None, None)] == "firing"
    month = today.strftime("%Y-%m")
    assert {(s["metric"]["client"], s["metric"]["site"], s["metric"]["month"], s["value"][1])
            for s in availability} >= {("demo", "shop", month, "1"), ("demo", "down", month, "0")}
