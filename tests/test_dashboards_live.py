"""Every panel of every dashboard, evaluated on the real stack, for a client that has data.

`owl up` runs the real Prometheus (the real rules), Alertmanager, blackbox_exporter, the owl
exporter and the bridge on free ports with 2-second intervals. The client ``demo`` has what each
panel shows: the demo shop (WordPress + WooCommerce) and a fixture WordPress 5.8.1 with known
vulnerabilities, an HTTPS site whose certificate a test CA signs (blackbox_exporter trusts it
through ``SSL_CERT_FILE``), an RDAP server for its domain, and a server: an SSH banner, a backup
status file, node_exporter with the textfile written by the apt collector of Debian's
prometheus-node-exporter-collectors (pending upgrades of this machine, reboot required), as its
systemd timer writes it on a managed server, and two databases: a MariaDB primary and its
replica (Debian's mariadb-server), each watched by Debian's mysqld_exporter. The PostgreSQL
halves of the database panels are evaluated apart, on postgres_exporter watching the tests'
PostgreSQL server. Incidents come through the real
Alertmanager in two waves, so that counters and the acknowledgement histogram *increase* within
the panels' ranges: critical ones started 5 hours ago (so breached on arrival, 24/7 contract),
a major one still pending, minor ones acknowledged.

Each panel's query is then sent to Prometheus as Grafana would send it: variables replaced
(client ``demo``; every site and server; this month), ``$__range`` the panel's range (this
calendar month in Europe/Paris for ``now/M`` panels), instant or range as the panel says. A
panel that comes back empty is listed:

- *awaited*: a metric it reads has no series at all in Prometheus: nobody produces it here. A
  failure naming the metric and who should produce it (docs/metrics.md);
- *empty*: its metrics exist, yet the query returns nothing: the dashboard is wrong. A failure.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import requests
from sqlalchemy.engine import make_url

from dashboards import CLIENT_DASHBOARDS
from dashboards.queries import (
    PanelQuery,
    expand,
    load_dashboards,
    metric_names,
    panel_queries,
    panel_range,
    prometheus_duration,
)
from tests.fixtures.sites.support import serving
from tests.support.binaries import require_binary
from tests.support.databases import postgres_url
from tests.support.mariadb import exporter_args, running_replicated_pair
from tests.support.processes import free_port, running, wait_until
from tests.test_databases_live import watching

SCRAPE_SECONDS = 2
# Grafana draws about this many points across a panel: $__interval = range / points
MAX_DATA_POINTS = 500
# Long enough for the first evaluation of every rule group (availability: once a minute) and
# the exporter's first probe runs; after that, a metric still missing is not coming.
SETTLING_SECONDS = 80
GIVE_UP_SECONDS = 150
REPO = Path(__file__).resolve().parent.parent
APT_COLLECTOR = Path("/usr/share/prometheus-node-exporter-collectors/apt_info.py")
# Who produces what a panel may await, beyond docs/metrics.md's own sections.
PRODUCERS = {
    "apt_upgrades_pending": f"{APT_COLLECTOR} (Debian package prometheus-node-exporter-collectors)",
    "node_reboot_required": f"{APT_COLLECTOR} (Debian package prometheus-node-exporter-collectors)",
}

INVENTORY = """
provider:
  name: OWL SYSTEMS
  timezone: Europe/Paris
  stack:
    prometheus: 127.0.0.1:{prometheus}
    alertmanager: 127.0.0.1:{alertmanager}
    blackbox_exporter: 127.0.0.1:{blackbox}
    exporter: 127.0.0.1:{exporter}
    bridge: 127.0.0.1:{bridge}
    scrape_interval: {scrape}s
    evaluation_interval: {scrape}s
  probes:
    rdap_server: http://127.0.0.1:{rdap}/
    vulnerability_db: {vulndb}
clients:
  - id: demo
    name: Demo Boutique SAS
    contract:
      tier: 3
      monthly_fee: "1200.00"
      support_24_7: true
      quote: DEV-1
      start: 2025-02-01
      backups: {{period: 1d, grace: 6h, retention: 7, check_period: 7d, restore_test_period: 30d}}
    sites:
      - id: shop
        url: http://127.0.0.1:{demo}/
        cms: wordpress
        shop: woocommerce
        domain: demo-boutique.example
        checkout: {{product: "42", payment_methods: [stripe],
                    payment_provider_url: "https://127.0.0.1:{https}/v3/"}}
      - id: blog
        url: {blog}
        cms: wordpress
      - id: secure
        url: https://127.0.0.1:{https}/
    servers:
      - id: web1
        address: 127.0.0.1
        ssh_port: {ssh}
        node_exporter: 127.0.0.1:{node}
        backups:
          - {{id: nightly, tool: status_file, repository: {status_file}}}
        databases: {databases}
  - id: acme
    name: ACME SARL
    contract: {{tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-06-01}}
    sites: [{{id: www, url: "http://127.0.0.1:{demo}/acme/", cms: drupal}}]
"""


# --- small servers standing in for the client's other parts ---------------------------------

def _serve(server: ThreadingHTTPServer):
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    return server


class _Page(BaseHTTPRequestHandler):
    body = b"<!DOCTYPE html><html><head><title>Espace client</title></head><body>OK</body></html>"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class _Rdap(BaseHTTPRequestHandler):
    """RDAP (RFC 9083) for any domain: registered, expiring in 200 days."""

    def do_GET(self):
        name = self.path.rstrip("/").rsplit("/", 1)[-1]
        expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=200)
        body = json.dumps({
            "objectClassName": "domain", "ldhName": name, "rdapConformance": ["rdap_level_0"],
            "events": [{"eventAction": "registration", "eventDate": "2019-04-02T10:00:00Z"},
                       {"eventAction": "expiration",
                        "eventDate": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}]}).encode()
        self.send_response(200 if self.path.startswith("/domain/") else 404)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _ssh_banner(port: int) -> socket.socket:
    """A TCP server that greets like OpenSSH, for blackbox_exporter's ssh_banner module."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)

    def loop():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
                connection.settimeout(2)
                try:
                    connection.recv(256)
                except OSError:
                    pass
    threading.Thread(target=loop, daemon=True).start()
    return listener


def _apt_textfile(folder: Path) -> Path:
    """node_exporter's textfile directory, with what the apt collector writes (if installed)."""
    folder.mkdir()
    if APT_COLLECTOR.exists():
        written = subprocess.run(["/usr/bin/python3", str(APT_COLLECTOR)], capture_output=True,
                                 text=True, timeout=120)
        assert written.returncode == 0, written.stderr
        (folder / "apt.prom").write_text(written.stdout)
    return folder


@contextmanager
def _replicated_mariadb(folder: Path) -> Iterator[list[dict]]:
    """A MariaDB primary and its replica, each watched by mysqld_exporter: yields them as the
    inventory's databases of a server."""
    with ExitStack() as stack:
        primary, replica = stack.enter_context(running_replicated_pair(folder))
        databases = []
        for name, server in (("wordpress", primary), ("wordpress-replica", replica)):
            port = free_port()
            stack.enter_context(running(exporter_args(folder, server, port),
                                        folder / f"mysqld_exporter-{name}.log"))
            databases.append({"id": name, "engine": "mariadb",
                              "exporter": f"127.0.0.1:{port}", "address": server.address})
        yield databases


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for 127.0.0.1 it signed, valid 20 days: (ca, cert, key)."""
    openssl = "openssl"
    ca_key, ca, key, csr, cert = (folder / name for name in
                                  ("ca.key", "ca.pem", "site.key", "site.csr", "site.pem"))
    extensions = folder / "site.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                          "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    for command in (
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out",
             ca, "-days", "30", "-subj", "/CN=OWL test CA", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
            [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=127.0.0.1"],
            [openssl, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
             "-out", cert, "-days", "20", "-extfile", extensions]):
        subprocess.run([str(part) for part in command], check=True, capture_output=True,
                       timeout=60)
    return ca, cert, key


# --- the stack ------------------------------------------------------------------------------

@dataclass
class Stack:
    prometheus: str
    alertmanager: str
    bridge: str
    token: str
    started: float


@pytest.fixture(scope="module")
def stack(tmp_path_factory, installed_owl):
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter",
                   "openssl"):
        require_binary(binary)
    node_exporter = require_binary("prometheus-node-exporter")
    tmp = tmp_path_factory.mktemp("dashboards-live")
    ports = {name: free_port() for name in ("prometheus", "alertmanager", "blackbox", "exporter",
                                            "bridge", "demo", "node", "ssh")}
    ca, cert, key = _certificates(tmp)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    https = _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Page))
    https.socket = context.wrap_socket(https.socket, server_side=True)
    rdap = _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Rdap))
    ssh = _ssh_banner(ports["ssh"])
    now = dt.datetime.now(dt.timezone.utc)
    status_file = tmp / "nightly-status.json"
    status_file.write_text(json.dumps({
        "version": 1, "snapshots": 7,
        "last_snapshot": (now - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "last_check": {"time": (now - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "success": True},
        "last_restore_test": {"time": (now - dt.timedelta(days=9)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "success": True}}))
    vulndb = tmp / "vulnerabilities.json"
    imported = subprocess.run(
        [sys.executable, "-m", "owl_commands.cli", "vulndb", "import", "--format", "wordfence", "--db",
         str(vulndb), str(REPO / "tests" / "fixtures" / "vulndb" / "wordfence.json")],
        capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    textfiles = _apt_textfile(tmp / "textfiles")
    with serving("wordpress-5.8.1") as blog, running(
            [node_exporter, f"--web.listen-address=127.0.0.1:{ports['node']}",
             f"--collector.textfile.directory={textfiles}"], tmp / "node_exporter.log"), \
            _replicated_mariadb(tmp / "databases") as databases:
        inventory = tmp / "inventory.yml"
        inventory.write_text(INVENTORY.format(
            **ports, scrape=SCRAPE_SECONDS, https=https.server_address[1],
            rdap=rdap.server_address[1], blog=blog.url, status_file=status_file,
            vulndb=vulndb, databases=json.dumps(databases)))
        state = tmp / "state"
        log_path = tmp / "owl-up.log"
        environment = {**os.environ, "SSL_CERT_FILE": str(ca), "REQUESTS_CA_BUNDLE": str(ca)}
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [installed_owl.owl, "up", "--inventory", str(inventory), "--state",
                 str(state), "--demo-site.listen-address", f"127.0.0.1:{ports['demo']}",
                 "--node-exporter.listen-address", "none"],
                stdout=log, stderr=subprocess.STDOUT, env=environment,
                cwd=installed_owl.workdir)
        try:
            wait_until(lambda: "owl-monitoring is up" in log_path.read_text()
                       or process.poll() is not None, timeout=90, message="owl up ready")
            assert process.poll() is None, log_path.read_text()
            yield Stack(f"http://127.0.0.1:{ports['prometheus']}",
                        f"http://127.0.0.1:{ports['alertmanager']}",
                        f"http://127.0.0.1:{ports['bridge']}",
                        (state / "secrets" / "demo-operator-token").read_text().strip(),
                        time.monotonic())
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            https.shutdown()
            rdap.shutdown()
            ssh.close()


# --- incidents -----------------------------------------------------------------------------

def _alert(name: str, severity: str, started: dt.datetime, **target) -> dict:
    labels = {"alertname": name, "severity": severity, "client": "demo", **target}
    return {"labels": labels, "annotations": {"summary": f"{name} (dashboard test)"},
            "startsAt": started.strftime("%Y-%m-%dT%H:%M:%S.000Z")}


def _key(labels: dict) -> tuple[str, str]:
    return labels["alertname"], labels.get("site") or labels.get("server") or ""


def _incidents(stack: Stack) -> dict[tuple[str, str], dict]:
    response = requests.get(f"{stack.bridge}/api/v1/incidents", params={"client": "demo"},
                            headers={"Authorization": f"Bearer {stack.token}"}, timeout=5)
    response.raise_for_status()
    return {_key(incident["labels"]): incident for incident in response.json()["incidents"]}


def _wave(stack: Stack, alerts: list[dict], acknowledge: list[str]) -> None:
    """Alerts posted to Alertmanager as Prometheus posts them; once the bridge holds them as
    incidents, those named in ``acknowledge`` are acknowledged."""
    posted = requests.post(f"{stack.alertmanager}/api/v2/alerts", json=alerts, timeout=5)
    posted.raise_for_status()
    keys = {_key(alert["labels"]) for alert in alerts}
    wait_until(lambda: keys <= set(_incidents(stack)), timeout=90, interval=1,
               message=f"incidents {sorted(keys)} in the bridge")
    incidents = _incidents(stack)
    for alert in alerts:
        if alert["labels"]["alertname"] not in acknowledge:
            continue
        incident = incidents[_key(alert["labels"])]
        acked = requests.post(f"{stack.bridge}/api/v1/incidents/{incident['id']}/ack",
                              headers={"Authorization": f"Bearer {stack.token}"}, timeout=5)
        assert acked.status_code == 200, acked.text


def _scraped(stack: Stack, expr: str) -> bool:
    return bool(_query(stack.prometheus, expr)["result"])


def produce_incidents(stack: Stack) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    long_ago = now - dt.timedelta(hours=5)  # past the 4-hour critical deadline (24/7)
    # critical ones on the shop; major and minor ones on the server, so that no inhibition
    # (a critical problem mutes the others of the same target) hides them
    _wave(stack, [_alert("SiteDown", "critical", long_ago, site="shop"),
                  _alert("BackupLate", "major", now, server="web1"),
                  _alert("OsUpdatesPending", "minor", now, server="web1")],
          acknowledge=["OsUpdatesPending"])
    wait_until(lambda: _scraped(stack, 'owl_sla_breaches_total{client="demo"}'), timeout=60,
               message="the first breach scraped")
    time.sleep(2 * SCRAPE_SECONDS)  # counters seen at 1 before they move to 2
    # new targets, so new Alertmanager groups: sent after group_wait, not group_interval
    _wave(stack, [_alert("SiteDown", "critical", long_ago, site="blog"),
                  _alert("TlsCertificateExpiringSoon", "minor", now, site="secure")],
          acknowledge=["TlsCertificateExpiringSoon"])
    wait_until(lambda: _scraped(
        stack, 'owl_sla_breaches_total{client="demo", severity="critical"} >= 2'), timeout=60,
        message="the second breach scraped")


# --- evaluating panels ------------------------------------------------------------------------

def _query(prometheus: str, expr: str, **params) -> dict:
    path = "query_range" if "step" in params else "query"
    response = requests.post(f"{prometheus}/api/v1/{path}", data={"query": expr, **params},
                             timeout=30)
    payload = response.json()
    if payload.get("status") != "success":
        raise AssertionError(f"{expr}: {payload.get('errorType')}: {payload.get('error')}")
    return payload["data"]


def variable_values(query: PanelQuery, start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    seconds = (end - start).total_seconds()
    interval = max(seconds / MAX_DATA_POINTS, SCRAPE_SECONDS)
    return {"client": "demo" if query.dashboard in CLIENT_DASHBOARDS else ".*",
            "site": ".*", "server": ".*", "database": ".*", "month": "0d",
            "__range": prometheus_duration(seconds), "__range_s": str(int(seconds)),
            "__range_ms": str(int(seconds * 1000)),
            "__interval": prometheus_duration(interval),
            "__interval_ms": str(int(interval * 1000)),
            "__rate_interval": prometheus_duration(max(interval + SCRAPE_SECONDS,
                                                       4 * SCRAPE_SECONDS))}


def shows_something(data: dict) -> bool:
    """Whether Grafana would draw a value: a series or sample with a finite number."""
    result = data["result"]
    if data["resultType"] == "matrix":
        values = [value for series in result for _, value in series["values"]]
    elif data["resultType"] == "vector":
        values = [sample["value"][1] for sample in result]
    else:
        values = [result[1]]
    return any(math.isfinite(float(value)) for value in values)


def panel_data(prometheus: str, dashboards: dict, query: PanelQuery) -> dict:
    """What Prometheus answers Grafana for this panel query."""
    now = dt.datetime.now(dt.timezone.utc)
    start, end = panel_range(query, dashboards[query.dashboard], now)
    values = variable_values(query, start, end)
    expr = expand(query.expr, values)
    if query.instant:
        return _query(prometheus, expr, time=end.timestamp())
    step = max((end - start).total_seconds() / MAX_DATA_POINTS, SCRAPE_SECONDS)
    return _query(prometheus, expr, start=start.timestamp(), end=end.timestamp(), step=step)


def evaluate(stack: Stack, dashboards: dict, query: PanelQuery) -> bool:
    return shows_something(panel_data(stack.prometheus, dashboards, query))


def absent_metrics(stack: Stack, query: PanelQuery) -> set[str]:
    return {name for name in metric_names(query.expr)
            if not _query(stack.prometheus, f'count({{__name__="{name}"}})')["result"]}


def test_every_panel_returns_data_for_a_client_that_has_data(stack):
    dashboards = load_dashboards()
    queries = [query for name, dashboard in dashboards.items()
               for query in panel_queries(name, dashboard)]
    produce_incidents(stack)
    while True:
        empty = [query for query in queries if not evaluate(stack, dashboards, query)]
        waited = time.monotonic() - stack.started
        if not empty or waited > GIVE_UP_SECONDS:
            break
        if waited > SETTLING_SECONDS and all(absent_metrics(stack, query) for query in empty):
            break
        time.sleep(3)
    awaited = {query.name: sorted(absent_metrics(stack, query)) for query in empty}
    wrong = sorted(name for name, absent in awaited.items() if not absent)
    awaited = {name: absent for name, absent in awaited.items() if absent}
    report = [f"{len(queries) - len(empty)} of {len(queries)} panel queries return data."]
    if wrong:
        report.append("Empty although every metric they read exists (the query is wrong):")
        report += [f"  {name}" for name in wrong]
    if awaited:
        report.append("Awaiting metrics nobody produces here yet:")
        for name, absent in sorted(awaited.items()):
            who = "; ".join(f"{metric} ({PRODUCERS.get(metric, 'docs/metrics.md')})"
                            for metric in absent)
            report.append(f"  {name}: {who}")
    print("\n".join(report))
    assert not wrong and not awaited, "\n".join(report)


# --- the PostgreSQL halves of the database panels --------------------------------------------

def databases_shown(data: dict) -> set[str]:
    """The ``database`` of each series (of a vector or a matrix) with a finite value."""
    def finite(series: dict) -> bool:
        samples = series["values"] if "values" in series else [series["value"]]
        return any(math.isfinite(float(value)) for _, value in samples)
    return {series["metric"].get("database") for series in data["result"] if finite(series)}


def test_the_database_panels_that_read_postgresql_show_a_postgresql_database(tmp_path):
    prometheus_binary = require_binary("prometheus")
    url = make_url(postgres_url())
    port = free_port()
    databases = [{"id": "app", "engine": "postgresql", "exporter": f"127.0.0.1:{port}",
                  "address": f"{url.host}:{url.port}"}]
    # the DSN in postgres_exporter's environment, as Debian's unit reads it
    environment = {"DATA_SOURCE_NAME": url.set(query={"sslmode": "disable"}).render_as_string(
        hide_password=False), "PATH": "/usr/bin:/bin"}
    exporter = [require_binary("prometheus-postgres-exporter"),
                f"--web.listen-address=127.0.0.1:{port}"]
    dashboards = load_dashboards()
    queries = [query for query in panel_queries("servers.json", dashboards["servers.json"])
               if any(name.startswith("pg_") for name in metric_names(query.expr))]
    assert queries, "no panel of the servers dashboard reads PostgreSQL"
    with running(exporter, tmp_path / "postgres_exporter.log", env=environment), \
            watching(tmp_path, databases, prometheus_binary) as prometheus:
        # three scrapes: two samples in every rate's window, whatever the alignment
        wait_until(lambda: _query(prometheus, 'count_over_time(pg_up{database="app"}[1h]) >= 3')
                   ["result"], timeout=60, message="three scrapes of the PostgreSQL database")
        not_showing_it = [query.name for query in queries if "app" not in databases_shown(
            panel_data(prometheus, dashboards, query))]
    assert not_showing_it == []
