"""``/metrics`` behind the scrape token (sla_bridge.api.ops): every client's penalties are on it,
so only Prometheus' token reads it; an operator's, a client's or the webhook's token is refused.
On SQLite and PostgreSQL, then on a real ``owl bridge``."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from owl.inventory import parse_inventory
from sla_bridge.app import BridgeConfig, create_app
from sla_bridge.auth import SCRAPE, read_secret
from tests.support.bridge import INVENTORY, SCRAPE_TOKEN, WEBHOOK_TOKEN, alert
from tests.support.processes import free_port, running, wait_for_http


def scrape(tb, authorization: str | None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    return tb.client.get("/metrics", headers=headers)


def test_the_scrape_token_reads_every_clients_metrics(tb):
    tb.post_alerts(alert())
    response = scrape(tb, f"Bearer {SCRAPE_TOKEN}")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert b'owl_incidents_open{client="acme",severity="critical"} 1.0' in response.data


def test_a_client_token_is_refused_metrics_of_every_client(tb):
    token = tb.bridge.tokens.add("client", "client:acme", client="acme")
    assert tb.as_operator("GET", "/api/v1/incidents").status_code == 200  # tokens work
    assert tb.client.get("/api/v1/incidents",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
    response = scrape(tb, f"Bearer {token}")
    assert response.status_code == 401
    assert b"owl_" not in response.data


@pytest.mark.parametrize("who", ["operator", "webhook", "wrong", "none", "basic", "non-ascii",
                                 "prefix", "longer"])
def test_every_other_credential_is_a_401_with_no_metric_in_it(tb, who):
    authorization = {
        "operator": f"Bearer {tb.operator_token}",
        "webhook": f"Bearer {WEBHOOK_TOKEN}",
        "wrong": "Bearer not-the-scrape-token",
        "none": None,
        "basic": f"Basic {SCRAPE_TOKEN}",
        "non-ascii": "Bearer tést-scrape-token",
        "prefix": f"Bearer {SCRAPE_TOKEN[:-1]}",
        "longer": f"Bearer {SCRAPE_TOKEN}x",
    }[who]
    response = scrape(tb, authorization)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="owl-sla-bridge"'
    assert response.json == {"error": "/metrics needs the scrape token as a bearer token"}


def test_the_scrape_token_opens_nothing_but_metrics(tb):
    headers = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    assert tb.client.get("/api/v1/incidents", headers=headers).status_code == 401
    assert tb.post_alerts(alert(), token=SCRAPE_TOKEN).status_code == 401


def test_a_bridge_without_a_scrape_token_serves_metrics_to_nobody(database_url):
    inventory = parse_inventory(INVENTORY, "test-inventory.yml")
    app = create_app(BridgeConfig(database_url, inventory, WEBHOOK_TOKEN))
    try:
        client = app.test_client()
        token = app.extensions["owl"].tokens.add("operator", "alice")
        for authorization in (None, f"Bearer {token}", "Bearer ", f"Bearer {WEBHOOK_TOKEN}"):
            headers = {"Authorization": authorization} if authorization else {}
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 401
            assert "OWL_SCRAPE_TOKEN or --scrape.token-file" in response.json["error"]
    finally:
        app.extensions["owl"].db.dispose()


def test_the_environment_wins_over_the_scrape_token_file(tmp_path, monkeypatch):
    path = tmp_path / "scrape"
    path.write_text("from-file\nsecond line\n")
    monkeypatch.delenv("OWL_SCRAPE_TOKEN", raising=False)
    assert read_secret(SCRAPE, str(path)) == "from-file"
    monkeypatch.setenv("OWL_SCRAPE_TOKEN", " from-env\n")
    assert read_secret(SCRAPE, str(path)) == "from-env"
    monkeypatch.setenv("OWL_WEBHOOK_TOKEN", "the-webhooks")  # each secret its own variable
    monkeypatch.delenv("OWL_SCRAPE_TOKEN")
    assert read_secret(SCRAPE, None) is None


# --- a real owl bridge --------------------------------------------------------------------------

def bridge_command(tmp_path, port: int, *extra: str) -> list[str]:
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    return [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
            "--database", f"sqlite:///{tmp_path / 'bridge.db'}",
            "--web.listen-address", f"127.0.0.1:{port}", *extra]


def test_owl_bridge_reads_the_scrape_token_from_its_file(tmp_path):
    token_file = tmp_path / "scrape-token"
    token_file.write_text("a-scrape-token-from-a-file\n")
    port = free_port()
    env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}
    command = bridge_command(tmp_path, port, "--scrape.token-file", str(token_file))
    with running(command, tmp_path / "bridge.log", env=env) as process:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        url = f"http://127.0.0.1:{port}/metrics"
        good = requests.get(url, headers={"Authorization": "Bearer a-scrape-token-from-a-file"},
                            timeout=10)
        webhook = requests.get(url, headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
                               timeout=10)
        anonymous = requests.get(url, timeout=10)
    assert good.status_code == 200 and "owl_client_contract_info" in good.text
    assert webhook.status_code == anonymous.status_code == 401
    assert "a-scrape-token-from-a-file" not in (tmp_path / "bridge.log").read_text()


def test_owl_bridge_without_a_scrape_token_starts_says_so_and_refuses_every_scrape(tmp_path):
    port = free_port()
    env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}
    with running(bridge_command(tmp_path, port), tmp_path / "bridge.log", env=env) as process:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        anonymous = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert anonymous.status_code == 401
    log = (tmp_path / "bridge.log").read_text()
    assert "no scrape token (OWL_SCRAPE_TOKEN, --scrape.token-file)" in log


def test_owl_bridge_refuses_to_start_on_an_empty_scrape_token_file(tmp_path):
    token_file = tmp_path / "scrape-token"
    token_file.write_text("\n")
    env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(bridge_command(tmp_path, free_port(), "--scrape.token-file",
                                           str(token_file)),
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot read the scrape token: {token_file}: the scrape token file is empty" in \
        result.stderr
