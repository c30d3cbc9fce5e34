"""Database health on the real parts: two MariaDB servers from Debian (a primary and its replica),
each watched by Debian's mysqld_exporter (the primary's behind basic auth), scraped by the real
Prometheus from the rendered configuration, with the SLA bridge serving the contracts; and the
real PostgreSQL server of the tests watched by Debian's postgres_exporter.

This checks the wiring (targets and their labels, basic auth from the password file, metric names
the rules read, their evaluation without error, the tier filter) and that the rules match what
a real server shows when it saturates, stops replicating or goes down: alerts are looked at as
soon as they are pending, promtool's unit tests check the timings.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import bcrypt
import pytest
import requests
import yaml
from sqlalchemy.engine import make_url

from owl.inventory import parse_inventory
from owl.render import RenderOptions, render, write_rendered
from sla_bridge.app import BridgeConfig, create_app
from tests.support.alertmanager import serving
from tests.support.binaries import require_binary
from tests.support.databases import postgres_url
from tests.support.mariadb import RunningMariadb, exporter_args, running_replicated_pair
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.test_alert_rules_live import query, rule_errors

WEB_USER, WEB_PASSWORD = "prometheus", "scrape-secret"


def inventory_text(ports: dict, databases: list[dict]) -> str:
    """demo (tier 3) with ``databases`` on its server db1; acme (tier 1) with a site database
    whose exporter is the ``spare`` port."""
    clients = [
        {"id": "demo", "name": "Demo", "contract": {
            "tier": 3, "monthly_fee": "1200.00", "support_24_7": True, "quote": "Q1",
            "start": dt.date(2025, 1, 1)},
         "servers": [{"id": "db1", "address": "127.0.0.1", "ssh_port": None,
                      "databases": databases}]},
        # tier 1: database health is not in its contract, its database is not scraped
        {"id": "acme", "name": "ACME", "contract": {
            "tier": 1, "monthly_fee": "300.00", "quote": "Q2", "start": dt.date(2025, 1, 1)},
         "sites": [{"id": "www", "url": "http://127.0.0.1:9/", "database": {
             "id": "drupal", "engine": "mysql", "exporter": f"127.0.0.1:{ports['spare']}"}}]},
    ]
    provider = {"name": "OWL SYSTEMS", "stack": {
        **{name: f"127.0.0.1:{ports[name]}" for name in
           ("prometheus", "alertmanager", "exporter", "bridge")},
        "blackbox_exporter": f"127.0.0.1:{ports['blackbox']}",
        "scrape_interval": "1s", "evaluation_interval": "1s"}}
    return yaml.safe_dump({"provider": provider, "clients": clients}, sort_keys=False)


def web_config(workdir: Path) -> Path:
    path = workdir / "web-config.yml"
    hashed = bcrypt.hashpw(WEB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(yaml.safe_dump({"basic_auth_users": {WEB_USER: hashed}}), encoding="utf-8")
    return path


def alert_labels(prometheus: str) -> list[dict]:
    """The labels of the alerts pending or firing now."""
    response = requests.get(f"{prometheus}/api/v1/alerts", timeout=5)
    return [alert["labels"] for alert in response.json()["data"]["alerts"]]


def pending(prometheus: str, alertname: str, database: str) -> bool:
    return any(labels["alertname"] == alertname and labels.get("database") == database
               for labels in alert_labels(prometheus))


def holding_connections(server: RunningMariadb, count: int, stack: ExitStack) -> None:
    """``count`` client connections kept open (each sleeping in a query) until ``stack`` closes."""
    for _ in range(count):
        process = subprocess.Popen(
            [require_binary("mariadb"), "--no-defaults", f"--socket={server.socket}", "-uroot",
             "-e", "SELECT SLEEP(120)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(process.kill)


@contextmanager
def watching(tmp_path: Path, databases: list[dict], prometheus_binary: str) -> Iterator[str]:
    """The rendered stack's Prometheus, with the bridge serving the contracts, watching
    ``databases`` (those of :func:`inventory_text`); yields Prometheus' base URL."""
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    ports = {name: free_port() for name in ("prometheus", "alertmanager", "exporter", "bridge",
                                            "blackbox", "spare")}
    inventory = parse_inventory(inventory_text(ports, databases))
    out = tmp_path / "out"
    (tmp_path / "token").write_text("token\n", encoding="utf-8")
    (tmp_path / "scrape-token").write_text("scrape-token\n", encoding="utf-8")
    write_rendered(render(inventory, RenderOptions(
        out, today, webhook_token_file=tmp_path / "token",
        scrape_token_file=tmp_path / "scrape-token")), out)
    bridge = create_app(BridgeConfig(f"sqlite:///{tmp_path / 'bridge.db'}", inventory, "token",
                                     scrape_token="scrape-token"))
    prometheus = f"http://127.0.0.1:{ports['prometheus']}"
    with serving(bridge, ports["bridge"]), running(
            [prometheus_binary, f"--config.file={out / 'prometheus' / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
            tmp_path / "prometheus.log") as process:
        wait_for_http(f"{prometheus}/-/ready", process=process,
                      ok=lambda response: response.status_code == 200)
        yield prometheus


@pytest.fixture
def binaries() -> dict[str, str]:
    return {name: require_binary(name) for name in
            ("prometheus", "prometheus-mysqld-exporter", "prometheus-postgres-exporter")}


def test_databases_are_scraped_with_their_labels_and_their_alerts_match_what_mariadb_shows(
        tmp_path: Path, binaries):
    with ExitStack() as stack:
        primary, replica = stack.enter_context(running_replicated_pair(tmp_path))
        password_file = tmp_path / "scrape-password"
        password_file.write_text(WEB_PASSWORD + "\n", encoding="utf-8")
        ports = {name: free_port() for name in ("primary", "replica")}
        databases = [
            {"id": "wordpress", "engine": "mariadb",
             "exporter": f"127.0.0.1:{ports['primary']}", "address": primary.address,
             "exporter_username": WEB_USER, "exporter_password_file": str(password_file)},
            {"id": "wordpress-replica", "engine": "mariadb",
             "exporter": f"127.0.0.1:{ports['replica']}", "address": replica.address}]
        stack.enter_context(running(exporter_args(tmp_path, primary, ports["primary"],
                                                  web_config(tmp_path)),
                                    tmp_path / "exporter-primary.log"))
        stack.enter_context(running(exporter_args(tmp_path, replica, ports["replica"]),
                                    tmp_path / "exporter-replica.log"))
        prometheus = stack.enter_context(watching(tmp_path, databases, binaries["prometheus"]))

        up = wait_until(lambda: len(found := query(prometheus, 'mysql_up == 1')) == 2 and found,
                        timeout=30, message="both databases scraped and up")
        assert {(s["metric"]["job"], s["metric"]["client"], s["metric"]["tier"],
                 s["metric"]["server"], s["metric"]["database"], s["metric"]["engine"],
                 s["metric"]["instance"]) for s in up} == {
            ("mysqld", "demo", "3", "db1", "wordpress", "mariadb", primary.address),
            ("mysqld", "demo", "3", "db1", "wordpress-replica", "mariadb", replica.address)}
        assert query(prometheus, 'up{job="mysqld", client="acme"}') == []
        replicating = query(prometheus, "mysql_slave_status_slave_io_running"
                                        " * mysql_slave_status_slave_sql_running")
        assert [(s["metric"]["database"], s["value"][1]) for s in replicating] == [
            ("wordpress-replica", "1")]
        assert query(prometheus, 'mysql_info_schema_table_size{database="wordpress", '
                                 'schema="wp", table="wp_posts", component="data_length"}')
        assert query(prometheus, "mysql_global_status_innodb_buffer_pool_read_requests")
        assert query(prometheus, "mysql_global_status_slow_queries")

        with ExitStack() as connections:
            # 9 clients, the replica's and the exporter's own: 11 of 12, one left for a scrape
            primary.sql("SET GLOBAL max_connections = 12")
            holding_connections(primary, 9, connections)
            wait_until(lambda: pending(prometheus, "DatabaseConnectionsNearLimit", "wordpress"),
                       timeout=30, message="DatabaseConnectionsNearLimit for the primary")
        replica.sql("STOP SLAVE SQL_THREAD")
        wait_until(lambda: pending(prometheus, "DatabaseReplicationBroken", "wordpress-replica"),
                   timeout=30, message="DatabaseReplicationBroken for the replica")
        primary.process.terminate()
        primary.process.wait(timeout=30)
        wait_until(lambda: pending(prometheus, "DatabaseDown", "wordpress"),
                   timeout=30, message="DatabaseDown for the primary")
        errors = rule_errors(prometheus)
        found = alert_labels(prometheus)

    assert errors == []
    assert not [labels for labels in found if labels.get("client") == "acme"]
    assert not [labels for labels in found if labels["alertname"] == "DatabaseExporterDown"]


def test_a_postgresql_database_is_scraped_with_its_labels_and_its_rules_read_its_series(
        tmp_path: Path, binaries):
    url = make_url(postgres_url())
    port = free_port()
    databases = [{"id": "app", "engine": "postgresql", "exporter": f"127.0.0.1:{port}",
                  "address": f"{url.host}:{url.port}"}]
    # postgres_exporter's DSN, in its environment as Debian's unit reads it from
    # /etc/default/prometheus-postgres-exporter
    environment = {"DATA_SOURCE_NAME": url.set(query={"sslmode": "disable"}).render_as_string(
        hide_password=False), "PATH": "/usr/bin:/bin"}
    exporter = [binaries["prometheus-postgres-exporter"], f"--web.listen-address=127.0.0.1:{port}"]
    with running(exporter, tmp_path / "exporter.log", env=environment), \
            watching(tmp_path, databases, binaries["prometheus"]) as prometheus:
        up = wait_until(lambda: query(prometheus, "pg_up == 1"), timeout=30,
                        message="the PostgreSQL database scraped and up")
        # the rules' own expressions, on the real series
        connections = wait_until(lambda: query(
            prometheus, 'sum without (datname, state) (pg_stat_activity_count{job="postgres"})'
                        ' / pg_settings_max_connections{job="postgres"}'), timeout=30,
            message="the connections over max_connections")
        hit_ratio = wait_until(lambda: query(
            prometheus, 'sum without (datid, datname) (pg_stat_database_blks_hit{job="postgres"})'
                        ' / sum without (datid, datname) (pg_stat_database_blks_hit{job="postgres"}'
                        ' + pg_stat_database_blks_read{job="postgres"})'), timeout=30,
            message="the buffer hit ratio")
        errors = rule_errors(prometheus)

    labels = up[0]["metric"]
    assert {key: labels[key] for key in ("job", "client", "tier", "server", "database", "engine",
                                         "instance")} == {
        "job": "postgres", "client": "demo", "tier": "3", "server": "db1", "database": "app",
        "engine": "postgresql", "instance": f"{url.host}:{url.port}"}
    assert len(connections) == 1 and 0 < float(connections[0]["value"][1]) < 1
    # the exporter's own server label does not take the place of the inventory's
    assert connections[0]["metric"]["server"] == "db1"
    assert connections[0]["metric"]["exported_server"] == f"{url.host}:{url.port}"
    assert len(hit_ratio) == 1 and 0 < float(hit_ratio[0]["value"][1]) <= 1
    assert errors == []
