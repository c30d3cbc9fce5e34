"""Database health on the real parts: two MariaDB servers from Debian (a primary and its replica),
each watched by Debian's mysqld_exporter (the primary's behind basic auth), scraped by the real
Prometheus from the rendered configuration, with the SLA bridge serving the contracts.

This checks the wiring (targets and their labels, basic auth from the password file, metric names
the rules read, their evaluation without error, the tier filter) and that the rules match what
a real server shows when it saturates, stops replicating or goes down: alerts are looked at as
soon as they are pending, promtool's unit tests check the timings.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from contextlib import ExitStack
from pathlib import Path
from zoneinfo import ZoneInfo

import bcrypt
import pytest
import requests
import yaml

from owl.inventory import parse_inventory
from owl.render import RenderOptions, render, write_rendered
from sla_bridge.app import BridgeConfig, create_app
from tests.support.alertmanager import serving
from tests.support.binaries import require_binary
from tests.support.mariadb import RunningMariadb, running_mariadb
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.test_alert_rules_live import query, rule_errors

EXPORTER_USER = "exporter"
EXPORTER_PASSWORD = "exporter-secret"
WEB_USER, WEB_PASSWORD = "prometheus", "scrape-secret"
# what docs/enroll-server.md grants the exporter (SLAVE MONITOR: SHOW SLAVE STATUS on 10.5+)
GRANTS = (f"CREATE USER '{EXPORTER_USER}'@'127.0.0.1' IDENTIFIED BY '{EXPORTER_PASSWORD}' "
          f"WITH MAX_USER_CONNECTIONS 3; "
          f"GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* "
          f"TO '{EXPORTER_USER}'@'127.0.0.1';")


def inventory_text(ports: dict, primary: RunningMariadb, replica: RunningMariadb,
                   password_file: Path) -> str:
    databases = [
        {"id": "wordpress", "engine": "mariadb", "exporter": f"127.0.0.1:{ports['primary']}",
         "address": primary.address, "exporter_username": WEB_USER,
         "exporter_password_file": str(password_file)},
        {"id": "wordpress-replica", "engine": "mariadb",
         "exporter": f"127.0.0.1:{ports['replica']}", "address": replica.address}]
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
             "id": "drupal", "engine": "mysql", "exporter": f"127.0.0.1:{ports['replica']}"}}]},
    ]
    provider = {"name": "OWL SYSTEMS", "stack": {
        **{name: f"127.0.0.1:{ports[name]}" for name in
           ("prometheus", "alertmanager", "exporter", "bridge")},
        "blackbox_exporter": f"127.0.0.1:{ports['blackbox']}",
        "scrape_interval": "1s", "evaluation_interval": "1s"}}
    return yaml.safe_dump({"provider": provider, "clients": clients}, sort_keys=False)


def exporter_args(workdir: Path, server: RunningMariadb, port: int,
                  web_config: Path | None = None) -> list[str]:
    my_cnf = workdir / f"my-{port}.cnf"
    my_cnf.write_text(f"[client]\nuser={EXPORTER_USER}\npassword={EXPORTER_PASSWORD}\n"
                      f"host=127.0.0.1\nport={server.port}\n", encoding="utf-8")
    my_cnf.chmod(0o600)
    args = [require_binary("prometheus-mysqld-exporter"), f"--config.my-cnf={my_cnf}",
            f"--web.listen-address=127.0.0.1:{port}", "--collect.info_schema.tables"]
    return args + ([f"--web.config.file={web_config}"] if web_config else [])


def web_config(workdir: Path) -> Path:
    path = workdir / "web-config.yml"
    hashed = bcrypt.hashpw(WEB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path.write_text(yaml.safe_dump({"basic_auth_users": {WEB_USER: hashed}}), encoding="utf-8")
    return path


def replicate(primary: RunningMariadb, replica: RunningMariadb) -> None:
    primary.sql("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl'; "
                "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';")
    replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                "MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos; "
                "START SLAVE;")
    primary.sql("CREATE DATABASE wp; CREATE TABLE wp.wp_posts (id INT PRIMARY KEY "
                "AUTO_INCREMENT, post_content TEXT) ENGINE=InnoDB; "
                "INSERT INTO wp.wp_posts (post_content) VALUES ('Bonjour');")
    wait_until(lambda: replica.sql("SELECT COUNT(*) FROM wp.wp_posts").strip() == "1"
               if "wp" in replica.sql("SHOW DATABASES") else False,
               timeout=30, message="the replica copying the primary")


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


@pytest.fixture
def binaries() -> dict[str, str]:
    return {name: require_binary(name) for name in ("prometheus", "prometheus-mysqld-exporter")}


def test_databases_are_scraped_with_their_labels_and_their_alerts_match_what_mariadb_shows(
        tmp_path: Path, binaries):
    today = dt.datetime.now(ZoneInfo("Europe/Paris")).date()
    with ExitStack() as stack:
        primary = stack.enter_context(running_mariadb(
            tmp_path / "primary", "--server-id=1", f"--log-bin={tmp_path / 'primary' / 'bin'}",
            "--binlog-format=ROW"))
        replica = stack.enter_context(running_mariadb(tmp_path / "replica", "--server-id=2"))
        for server in (primary, replica):  # each its own exporter user: not replicated
            server.sql("SET sql_log_bin = 0; " + GRANTS)
        replicate(primary, replica)
        ports = {name: free_port() for name in ("prometheus", "alertmanager", "exporter",
                                                "bridge", "blackbox", "primary", "replica")}
        password_file = tmp_path / "scrape-password"
        password_file.write_text(WEB_PASSWORD + "\n", encoding="utf-8")
        text = inventory_text(ports, primary, replica, password_file)
        inventory = parse_inventory(text)
        out = tmp_path / "out"
        (tmp_path / "token").write_text("token\n", encoding="utf-8")
        (tmp_path / "scrape-token").write_text("scrape-token\n", encoding="utf-8")
        write_rendered(render(inventory, RenderOptions(
            out, today, webhook_token_file=tmp_path / "token",
            scrape_token_file=tmp_path / "scrape-token")), out)
        bridge = create_app(BridgeConfig(f"sqlite:///{tmp_path / 'bridge.db'}", inventory,
                                         "token", scrape_token="scrape-token"))
        stack.enter_context(serving(bridge, ports["bridge"]))
        stack.enter_context(running(exporter_args(tmp_path, primary, ports["primary"],
                                                  web_config(tmp_path)),
                                    tmp_path / "exporter-primary.log"))
        stack.enter_context(running(exporter_args(tmp_path, replica, ports["replica"]),
                                    tmp_path / "exporter-replica.log"))
        prometheus = f"http://127.0.0.1:{ports['prometheus']}"
        process = stack.enter_context(running(
            [binaries["prometheus"], f"--config.file={out / 'prometheus' / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{ports['prometheus']}"],
            tmp_path / "prometheus.log"))
        wait_for_http(f"{prometheus}/-/ready", process=process,
                      ok=lambda response: response.status_code == 200)

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
