"""Two real Prometheus shards, rendered by ``owl config render --shards 2``, write to a real
VictoriaMetrics, and the monthly report reads a month's availability back from it through the
one query endpoint Grafana's provisioned datasource names.

What runs live: both shards probe local HTTP sites through a real blackbox_exporter, evaluate the
rendered rules, remote-write to ``victoria-metrics`` and send their alerts to a real
Alertmanager. The test finds every site's ``probe_success`` in VictoriaMetrics with the ``shard``
label of the shard the render gave the site (the exporters' own split), the bridge's ``up``
(scraped by both shards) as one series without it, and both shards' Watchdog as one alert
without it.

What is written: a month cannot be waited for. October 2026's per-minute availability
(``client_site:availability:ratio_1m``, which each shard's recording rule writes to the store
every minute for its own sites) is imported into VictoriaMetrics through its import API, as the
shards' remote write would have delivered it. The report's own code (``facts.gather``, the client
dashboard's expressions) then reads it from the datasource's URL, and its figures are the
hand-computed ones.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
import yaml

from owl.inventory import load_inventory
from owl.sharding import shard_of, target_key
from sla_bridge.reports.build import Period
from sla_bridge.reports.facts import gather
from sla_bridge.reports.prometheus import Prometheus
from tests.support.alertmanager import running_alertmanager
from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.test_render import render_case

PARIS = ZoneInfo("Europe/Paris")
CLIENT = "lune"
# site -> whether it answers now, and the shard the render puts it on (owl.sharding)
SITES = {"boutique": (True, 1), "shop": (False, 1), "vitrine": (True, 2), "blog": (False, 2)}
MONTH = "2026-10"  # 745 hours: the clocks go back on the 25th
MONTH_START = dt.datetime(2026, 10, 1, tzinfo=PARIS)
MONTH_END = dt.datetime(2026, 11, 1, tzinfo=PARIS)
MONTH_MINUTES = 745 * 60
# October's history: down (per-minute ratio 0) or in a maintenance window (no sample)
DOWN = {"boutique": [(dt.datetime(2026, 10, 5, 10, tzinfo=PARIS),
                      dt.datetime(2026, 10, 5, 12, tzinfo=PARIS))],
        "vitrine": [(dt.datetime(2026, 10, 26, 1, 30, tzinfo=PARIS),
                     dt.datetime(2026, 10, 26, 2, 15, tzinfo=PARIS))]}
MAINTENANCE = {"vitrine": [(dt.datetime(2026, 10, 14, 22, tzinfo=PARIS),
                            dt.datetime(2026, 10, 14, 23, tzinfo=PARIS))]}

INVENTORY = """
provider:
  name: OWL SYSTEMS
  timezone: Europe/Paris
  stack:
    prometheus: 127.0.0.1:{shard_1}
    alertmanager: {alertmanager}
    blackbox_exporter: 127.0.0.1:{blackbox}
    exporter: 127.0.0.1:{exporter}
    bridge: 127.0.0.1:{bridge}
    scrape_interval: 1s
    evaluation_interval: 1s
    long_term_store:
      remote_write_url: http://127.0.0.1:{store}/api/v1/write
      query_url: http://127.0.0.1:{store}
    shards:
      - {{prometheus: "127.0.0.1:{shard_1}"}}
      - {{prometheus: "127.0.0.1:{shard_2}"}}
clients:
  - id: lune
    name: Lune Cosmétiques SAS
    contract: {{tier: 1, monthly_fee: "300.00", quote: DEV-2026-0117, start: 2025-01-01}}
    sites:
{sites}
"""


@contextmanager
def sites_server():
    """One HTTP server for every site: ``/<site>`` answers 200 when the site is up, else 503."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            up = SITES.get(self.path.strip("/"), (False, 0))[0]
            body = b"<html><body>Lune</body></html>"
            self.send_response(200 if up else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def write_inventory(path: Path, ports: dict[str, int], alertmanager: str, sites_url: str) -> None:
    sites = "\n".join(f'      - {{id: {site}, url: "{sites_url}/{site}"}}' for site in SITES)
    path.write_text(INVENTORY.format(**ports, alertmanager=alertmanager.removeprefix("http://"),
                                     sites=sites),
                    encoding="utf-8")


def start_victoria_metrics(stack: ExitStack, folder: Path, port: int) -> str:
    args = [require_binary("victoria-metrics"), f"-storageDataPath={folder / 'vm-data'}",
            f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
            # what was just written is asked for at once: no latency offset, no cache
            "-search.latencyOffset=0s", "-search.disableCache"]
    process = stack.enter_context(running(args, folder / "victoria-metrics.log"))
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/health", process=process, ok=lambda r: r.status_code == 200)
    return url


def start_shard(stack: ExitStack, out: Path, index: int, url: str) -> None:
    prometheus = out / "prometheus"
    args = [require_binary("prometheus"), f"@{prometheus / f'flags-shard-{index}'}",
            f"--config.file={prometheus / f'prometheus-shard-{index}.yml'}",
            f"--storage.tsdb.path={out / f'shard-{index}-data'}",
            # alerts evaluated before Alertmanager is discovered are dropped, then resent only
            # after the resend delay (1m by default)
            "--rules.alert.resend-delay=1s"]
    process = stack.enter_context(running(args, out / f"shard-{index}.log"))
    wait_for_http(f"{url}/-/ready", process=process, ok=lambda r: r.status_code == 200)


def query(url: str, expr: str) -> list[dict]:
    response = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


def month_history() -> str:
    """October's per-minute availability of the four sites, in the text format with
    timestamps (VictoriaMetrics' /api/v1/import/prometheus): one sample at :30 of every minute
    but in maintenance, 0 while down."""
    lines, minute = [], MONTH_START.astimezone(dt.timezone.utc) + dt.timedelta(seconds=30)
    while minute < MONTH_END:
        for site in SITES:
            if any(start <= minute < end for start, end in MAINTENANCE.get(site, ())):
                continue
            down = any(start <= minute < end for start, end in DOWN.get(site, ()))
            lines.append(f'client_site:availability:ratio_1m{{client="{CLIENT}",site="{site}",'
                         f'month="{MONTH}"}} {0 if down else 1} {int(minute.timestamp() * 1000)}')
        minute += dt.timedelta(minutes=1)
    return "\n".join(lines) + "\n"


def minutes(spans) -> float:
    return sum((end - start).total_seconds() / 60 for start, end in spans)


def test_two_shards_write_to_victoria_metrics_and_the_report_reads_the_month_back_from_it(
        tmp_path):
    assert {site: shard_of(target_key(CLIENT, site), 2) for site in SITES} == \
        {site: shard for site, (_, shard) in SITES.items()}, "the test's sites moved shards"
    ports = {name: free_port() for name in ("shard_1", "shard_2", "blackbox", "exporter",
                                            "bridge", "store")}
    with ExitStack() as stack:
        alertmanager = stack.enter_context(running_alertmanager(tmp_path))
        sites_url = stack.enter_context(sites_server())
        write_inventory(tmp_path / "inventory.yml", ports, alertmanager.url, sites_url)
        out = tmp_path / "rendered"
        assert render_case(tmp_path / "inventory.yml", out, "local", "--shards", "2") == 0
        store = start_victoria_metrics(stack, tmp_path, ports["store"])
        blackbox = stack.enter_context(running(
            [require_binary("prometheus-blackbox-exporter"),
             f"--config.file={out / 'blackbox' / 'blackbox.yml'}",
             f"--web.listen-address=127.0.0.1:{ports['blackbox']}"], tmp_path / "blackbox.log"))
        wait_for_http(f"http://127.0.0.1:{ports['blackbox']}/-/healthy", process=blackbox)
        shards = {index: f"http://127.0.0.1:{ports[f'shard_{index}']}" for index in (1, 2)}
        for index, url in shards.items():
            start_shard(stack, out, index, url)

        # live: each site's probes reach the store from its own shard, with its label
        def probes() -> dict[str, tuple[str, str]] | None:
            found = {row["metric"]["site"]: (row["metric"].get("shard"), row["value"][1])
                     for row in query(store, 'probe_success{job="blackbox_http"}')}
            return found if len(found) == len(SITES) else None

        found = wait_until(probes, timeout=30, message="every site's probe_success in the store")
        assert found == {site: (str(shard), "1" if up else "0")
                         for site, (up, shard) in SITES.items()}
        # what both shards scrape alike is one series there, without the shard label
        bridge_up = wait_until(lambda: query(store, 'up{job="owl_bridge"}'), timeout=15,
                               message="the bridge's up in the store")
        assert [row["metric"] for row in bridge_up] == [
            {"__name__": "up", "job": "owl_bridge", "instance": f"127.0.0.1:{ports['bridge']}"}]
        # each shard watches the other: both shards' up, both written by each
        assert sorted(row["metric"]["instance"] for row in
                      query(store, 'up{job="prometheus"} == 1')) == \
            sorted(url.removeprefix("http://") for url in shards.values())

        # both shards raise the Watchdog; Alertmanager holds one, without the shard label
        def watchdogs() -> list[dict]:
            alerts = requests.get(f"{alertmanager.url}/api/v2/alerts", timeout=5).json()
            return [alert for alert in alerts if alert["labels"]["alertname"] == "Watchdog"]

        [watchdog] = wait_until(watchdogs, timeout=20, message="the Watchdog in Alertmanager")
        assert "shard" not in watchdog["labels"]
        assert all(query(url, 'prometheus_notifications_sent_total > 0')
                   for url in shards.values()), "a shard sent no alert to Alertmanager"

        # a month of history, then the report's code through the datasource Grafana reads
        response = requests.post(f"{store}/api/v1/import/prometheus", data=month_history(),
                                 timeout=30)
        assert response.status_code == 204, response.text
        requests.get(f"{store}/internal/force_flush", timeout=10).raise_for_status()
        datasource = yaml.safe_load((out / "grafana" / "provisioning" / "datasources" /
                                     "prometheus.yml").read_text())["datasources"][0]
        inventory = load_inventory(tmp_path / "inventory.yml")
        assert datasource["url"] == inventory.provider.stack.query_url == store
        period = Period(MONTH, MONTH_START.astimezone(dt.timezone.utc),
                        MONTH_END.astimezone(dt.timezone.utc), "Europe/Paris")
        availability = gather(Prometheus(inventory.provider.stack.query_url),
                              inventory.client(CLIENT), 1, period,
                              dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)).availability

    assert availability.error is None and availability.source == store
    figures = {target.target: (target.measured_minutes, target.downtime_minutes, target.ratio)
               for target in availability.targets}
    expected = {}
    for site in SITES:
        measured = MONTH_MINUTES - minutes(MAINTENANCE.get(site, ()))
        down = minutes(DOWN.get(site, ()))
        expected[site] = (measured, down, (measured - down) / measured)
    assert figures == expected
    assert figures["boutique"] == (44700, 120, 44580 / 44700)
    assert figures["vitrine"] == (44640, 45, 44595 / 44640)
    [vitrine] = [target for target in availability.targets if target.target == "vitrine"]
    # the day the clocks went back (25 hours) none down; the next one, 45 minutes
    [night] = [day for day in vitrine.days if day.day == dt.date(2026, 10, 25)]
    assert night.downtime_minutes == 0
    [monday] = [day for day in vitrine.days if day.day == dt.date(2026, 10, 26)]
    assert monday.downtime_minutes == 45 and monday.ratio == (1440 - 45) / 1440
