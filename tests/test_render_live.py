"""The rendered configuration, run by the real Prometheus and Alertmanager."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
import requests
import yaml

from owl.render.profile import DEFAULT_SCRAPE_TOKEN_FILE, DEFAULT_TOKEN_FILE
from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.test_alert_rules import RULE_FILES, alerts
from tests.test_render import FIXTURE, render_case, token_of

FILE_SD_JOBS = ("blackbox_http", "blackbox_ssh", "node")
READY = {"ok": lambda response: response.status_code == 200}


def active_file_sd_targets(base_url: str) -> dict[str, dict]:
    """instance -> target, for the file_sd jobs' active targets."""
    response = requests.get(f"{base_url}/api/v1/targets", params={"state": "active"}, timeout=5)
    return {target["labels"]["instance"]: target
            for target in response.json()["data"]["activeTargets"]
            if target["labels"]["job"] in FILE_SD_JOBS}


def test_prometheus_loads_the_rendered_targets_labels_and_rules(tmp_path):
    out = tmp_path / "out"
    assert render_case(FIXTURE, out) == 0
    base_url = f"http://127.0.0.1:{free_port()}"
    args = [require_binary("prometheus"), f"--config.file={out}/prometheus/prometheus.yml",
            f"--storage.tsdb.path={tmp_path}/data",
            f"--web.listen-address={base_url.removeprefix('http://')}"]
    with running(args, tmp_path / "prometheus.log") as process:
        wait_for_http(f"{base_url}/-/ready", process=process, **READY)
        targets = wait_until(lambda: (found := active_file_sd_targets(base_url)) and
                             len(found) == 13 and found, timeout=15,
                             message="13 file_sd targets (8 sites, 3 SSH, 2 node_exporter)")
        rules = requests.get(f"{base_url}/api/v1/rules", timeout=5).json()["data"]["groups"]

    shop = targets["https://shop.demo-boutique.example/"]
    assert shop["labels"] == {"job": "blackbox_http",
                              "instance": "https://shop.demo-boutique.example/",
                              "client": "demo", "tier": "3", "site": "shop", "cms": "wordpress",
                              "shop": "woocommerce"}
    assert shop["scrapeUrl"] == ("http://10.0.0.6:9115/probe?module=http_2xx&target="
                                 + quote("https://shop.demo-boutique.example/", safe=""))
    ssh = targets["203.0.113.21:2222"]
    assert ssh["labels"] == {"job": "blackbox_ssh", "instance": "203.0.113.21:2222",
                             "client": "demo", "tier": "3", "server": "db1"}
    assert ssh["scrapeUrl"].startswith("http://10.0.0.6:9115/probe?module=ssh_banner&")
    assert targets["app1.globex.example:9100"]["labels"]["server"] == "app1"
    loaded = {rule["name"] for group in rules for rule in group["rules"]}
    assert loaded >= {alert["alert"] for path in RULE_FILES for alert in alerts(path)}
    generated = yaml.safe_load((out / "prometheus" / "rules" / "generated.yml").read_text())
    assert {group["name"] for group in rules} == {
        group["name"] for path in [*RULE_FILES, out / "prometheus" / "rules" / "generated.yml"]
        for group in yaml.safe_load(path.read_text())["groups"]}
    assert "owl:calendar_month:info" in loaded and generated["groups"][0]["rules"]


@contextmanager
def capturing_http_server(port: int):
    """An HTTP server on 127.0.0.1:``port`` that answers 200 and records every POST."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers),
                             "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


def render_for_bridge(tmp_path, bridge_port: int, stack: str = ""):
    """Render, into ``tmp_path/out``, an inventory with no client whose bridge listens on
    ``bridge_port``; ``stack`` adds lines to its ``stack`` block. Returns the output folder."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(f"provider:\n  name: OWL SYSTEMS\n  stack:\n{stack}"
                         f"    bridge: 127.0.0.1:{bridge_port}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert render_case(inventory, out) == 0
    return out


def test_alertmanager_sends_every_alert_to_the_bridge_with_the_token_from_its_file(tmp_path):
    bridge_port = free_port()
    out = render_for_bridge(tmp_path, bridge_port)
    base_url = f"http://127.0.0.1:{free_port()}"
    args = [require_binary("prometheus-alertmanager"),
            f"--config.file={out}/alertmanager/alertmanager.yml",
            f"--storage.path={tmp_path}/data", "--cluster.listen-address=",
            f"--web.listen-address={base_url.removeprefix('http://')}"]
    alert = {"alertname": "SiteDown", "client": "demo", "site": "shop", "severity": "critical"}
    with capturing_http_server(bridge_port) as received, \
            running(args, tmp_path / "alertmanager.log") as process:
        wait_for_http(f"{base_url}/-/ready", process=process, **READY)
        requests.post(f"{base_url}/api/v2/alerts", json=[{"labels": alert}],
                      timeout=5).raise_for_status()
        wait_until(lambda: received, timeout=20, interval=0.2, message="a webhook delivery")

    delivery = received[0]
    assert delivery["path"] == "/api/v1/alerts"
    assert delivery["headers"]["Authorization"] == f"Bearer {token_of(out)}"
    assert delivery["json"]["version"] == "4"
    assert delivery["json"]["receiver"] == "owl-bridge"
    assert delivery["json"]["alerts"][0]["labels"] == alert


def test_prometheus_keeps_its_samples_for_the_retention_of_the_rendered_flags_file(tmp_path):
    out = tmp_path / "out"
    assert render_case(FIXTURE, out) == 0
    base_url = f"http://127.0.0.1:{free_port()}"
    args = [require_binary("prometheus"), f"--config.file={out}/prometheus/prometheus.yml",
            f"--storage.tsdb.path={tmp_path}/data",
            f"--web.listen-address={base_url.removeprefix('http://')}",
            f"@{out}/prometheus/flags"]  # as docker-compose.yml gives it, in either profile
    with running(args, tmp_path / "prometheus.log") as process:
        wait_for_http(f"{base_url}/-/ready", process=process, **READY)
        runtime = requests.get(f"{base_url}/api/v1/status/runtimeinfo", timeout=5).json()
    assert runtime["data"]["storageRetention"] == "400d"


PAGES = {
    "/plain": "<html><head><title>Boutique</title></head><body><h1>Nos produits</h1>"
              "<p>Une entreprise familiale, owned by the Martin family since 1950.</p>"
              "</body></html>",
    "/hacked": "<html><head><title>Boutique</title></head><body><center><h1>Hacked By "
               "Sh4d0w Team</h1><p>Your security is low</p></center></body></html>",
    "/leet": "<html><body><marquee>site 0wn3d by xX_crew_Xx</marquee></body></html>",
    "/title": "<html><head><title>H4CK3D</title></head><body><img src=x.gif></body></html>",
    "/unavailable": "<html><head><title>503 Service Unavailable</title></head><body>"
                    "<h1>Service Unavailable</h1></body></html>",
}
UNAVAILABLE = {"/unavailable"}  # answered with 503


@contextmanager
def serving_pages(port: int):
    """An HTTP server on 127.0.0.1:``port`` that serves :data:`PAGES`."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = PAGES[self.path].encode()
            self.send_response(503 if self.path in UNAVAILABLE else 200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_defacement_module_fails_on_its_regexps_only_on_a_defacers_page_that_answers(
        tmp_path):
    out = tmp_path / "out"
    assert render_case(FIXTURE, out) == 0
    address = f"127.0.0.1:{free_port()}"
    args = [require_binary("prometheus-blackbox-exporter"),
            f"--config.file={out}/blackbox/blackbox.yml", f"--web.listen-address={address}"]

    def probe(module: str, target: str) -> dict[str, float]:
        response = requests.get(f"http://{address}/probe",
                                params={"module": module, "target": target}, timeout=15)
        return {line.split()[0]: float(line.split()[1]) for line in response.text.splitlines()
                if line.startswith("probe_")}

    with serving_pages(free_port()) as site, \
            running(args, tmp_path / "blackbox.log") as process:
        wait_for_http(f"http://{address}/-/healthy", process=process, **READY)
        results = {}
        for path in PAGES:
            defacement = probe("http_defacement", site + path)
            results[path] = (probe("http_2xx", site + path)["probe_success"],
                             defacement["probe_success"], defacement["probe_failed_due_to_regex"])
    # (availability, defacement probe_success, probe_failed_due_to_regex): SiteDefaced reads the
    # last one, which a page that does not answer (a 503) leaves at 0
    assert results == {"/plain": (1, 1, 0), "/hacked": (1, 0, 1), "/leet": (1, 0, 1),
                       "/title": (1, 0, 1), "/unavailable": (0, 0, 0)}


@contextmanager
def tls_server(tmp_path, accepts_legacy: bool):
    """A TLS server on 127.0.0.1 that completes handshakes and closes; with ``accepts_legacy``
    it also accepts TLS 1.0 and 1.1 (which OpenSSL 3 allows only at security level 0)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    if not cert.exists():
        subprocess.run([require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if accepts_legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                context.wrap_socket(connection, server_side=True).close()
            except (ssl.SSLError, OSError):
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_the_legacy_tls_module_succeeds_only_on_a_server_that_still_accepts_tls_1_1(tmp_path):
    out = tmp_path / "out"
    assert render_case(FIXTURE, out) == 0
    address = f"127.0.0.1:{free_port()}"
    args = [require_binary("prometheus-blackbox-exporter"),
            f"--config.file={out}/blackbox/blackbox.yml", f"--web.listen-address={address}"]

    def probe(target: str) -> dict[str, float]:
        response = requests.get(f"http://{address}/probe",
                                params={"module": "tls_legacy", "target": target}, timeout=15)
        samples = (line.rpartition(" ") for line in response.text.splitlines()
                   if line.startswith(("probe_success ", "probe_tls_version_info{")))
        return {name: float(value) for name, _, value in samples}

    with tls_server(tmp_path, accepts_legacy=True) as legacy, \
            tls_server(tmp_path, accepts_legacy=False) as modern, \
            running(args, tmp_path / "blackbox.log") as process:
        wait_for_http(f"http://{address}/-/healthy", process=process, **READY)
        legacy_result, modern_result = probe(legacy), probe(modern)
    assert legacy_result == {"probe_success": 1, 'probe_tls_version_info{version="TLS 1.1"}': 1}
    assert modern_result == {"probe_success": 0}


def bridge_targets(base_url: str) -> list[dict]:
    response = requests.get(f"{base_url}/api/v1/targets", params={"state": "active"}, timeout=5)
    return [target for target in response.json()["data"]["activeTargets"]
            if target["labels"]["job"] == "owl_bridge" and target["lastScrape"] >= "2000"]


@pytest.mark.parametrize("bridge_token", ["rendered", "another"])
def test_prometheus_scrapes_a_real_bridge_with_the_rendered_scrape_token(tmp_path, bridge_token):
    """The target is up with the rendered token file, and down on a 401 when the bridge holds
    another token: what Prometheus sends is the file's token, and nothing else gets in."""
    bridge_port = free_port()
    out = render_for_bridge(tmp_path, bridge_port, "    scrape_interval: 1s\n")
    scrape_token_file = out / DEFAULT_SCRAPE_TOKEN_FILE
    if bridge_token == "another":
        scrape_token_file = tmp_path / "another-token"
        scrape_token_file.write_text("not-the-rendered-scrape-token\n", encoding="utf-8")
    inventory = tmp_path / "inventory.yml"  # written by render_for_bridge
    bridge = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
              "--database", f"sqlite:///{tmp_path / 'bridge.db'}",
              "--web.listen-address", f"127.0.0.1:{bridge_port}",
              "--webhook.token-file", str(out / DEFAULT_TOKEN_FILE),
              "--scrape.token-file", str(scrape_token_file)]
    base_url = f"http://127.0.0.1:{free_port()}"
    prometheus = [require_binary("prometheus"), f"--config.file={out}/prometheus/prometheus.yml",
                  f"--storage.tsdb.path={tmp_path}/data",
                  f"--web.listen-address={base_url.removeprefix('http://')}"]
    env = {"PATH": "/usr/bin:/bin"}
    with running(bridge, tmp_path / "bridge.log", env=env) as bridge_process, \
            running(prometheus, tmp_path / "prometheus.log") as process:
        wait_for_http(f"http://127.0.0.1:{bridge_port}/healthz", process=bridge_process)
        wait_for_http(f"{base_url}/-/ready", process=process, **READY)
        [target] = wait_until(lambda: bridge_targets(base_url), timeout=30, interval=0.5,
                              message="a scrape of the bridge")
        up = requests.get(f"{base_url}/api/v1/query", params={"query": "up{job='owl_bridge'}"},
                          timeout=5).json()["data"]["result"]
    if bridge_token == "rendered":
        assert target["health"] == "up", target["lastError"]
        assert [sample["value"][1] for sample in up] == ["1"]
    else:
        assert target["health"] == "down"
        assert "401" in target["lastError"]
