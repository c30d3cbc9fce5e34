"""The console in a real browser: Debian's chromium, at a desktop's size and at a phone's (390 CSS
pixels wide), on a real `owl bridge` process with a real Alertmanager and SMTP server behind it.

Each page is read with the keyboard, never scrolls sideways on the phone, and is saved as a
screenshot in build/screenshots/ (``desktop-incident.png``, ``phone-incident.png``...), so a
person can look at them: ``pytest tests/test_browser.py`` makes them all.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
import requests
from selenium.webdriver.common.keys import Keys

from tests.support.alertmanager import running_alertmanager
from tests.support.bridge import WEBHOOK_TOKEN, alert, webhook
from tests.support.browser import browser  # noqa: F401 (the fixture)
from tests.support.processes import free_port, running, wait_for_http
from tests.support.smtp import notifying_inventory, smtp_server

UTC = dt.timezone.utc
ENV = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "OWL_WEB_SECRET": "browser-test-web-secret",
       "PATH": "/usr/bin:/bin"}


@dataclass
class Console:
    url: str
    operator_token: str
    client_token: str  # acme's read token

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.operator_token}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=10,
                                **kwargs)

    def fire(self, *alerts: dict) -> None:
        response = requests.post(f"{self.url}/api/v1/alerts", json=webhook(*alerts), timeout=10,
                                 headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert response.status_code == 200, response.text

    def incident(self, **labels) -> dict:
        """The one open incident whose labels include ``labels``."""
        incidents = self.api("GET", "/api/v1/incidents").json()["incidents"]
        [found] = [i for i in incidents if labels.items() <= i["labels"].items()]
        return found


def owl(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def ago(**delta) -> dt.datetime:
    return dt.datetime.now(UTC) - dt.timedelta(**delta)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """`owl bridge` on the clock of the machine, with acme's incidents: one breached (the shop,
    down for 5 hours), one for each size to acknowledge (the blog, the server web1), globex's
    major one, and a maintenance window announced for acme."""
    tmp = tmp_path_factory.mktemp("console")
    with running_alertmanager(tmp) as alertmanager, smtp_server() as smtp:
        inventory = tmp / "inventory.yml"
        inventory.write_text(notifying_inventory(smtp.port, alertmanager.url.split("//")[1]))
        database = f"sqlite:///{tmp / 'bridge.db'}"
        owl("db", "upgrade", "--database", database)
        operator = owl("token", "add", "--operator", "alice", "--database", database)
        client = owl("token", "add", "--client", "acme", "--inventory", str(inventory),
                     "--database", database)
        port = free_port()
        command = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory",
                   str(inventory), "--database", database, "--web.listen-address",
                   f"127.0.0.1:{port}", "--alertmanager.url", alertmanager.url]
        with running(command, tmp / "bridge.log", env=ENV) as process:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/healthz", process=process)
            seeded = Console(url, operator, client)
            seed(seeded)
            yield seeded


def seed(console: Console) -> None:
    console.fire(alert(site="shop", starts_at=ago(hours=5)),
                 alert(site="blog", starts_at=ago(minutes=10)),
                 alert(site=None, server="web1", alertname="ServerDown", starts_at=ago(minutes=3)),
                 alert(client="globex", site="www", severity="major", alertname="TlsExpiring",
                       starts_at=ago(hours=1)))
    starts = dt.datetime.now(UTC).replace(microsecond=0, second=0) + dt.timedelta(days=3)
    announced = console.api("POST", "/api/v1/maintenances", json={
        "client": "acme", "targets": ["shop"], "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
        "description": "Mise à jour de WordPress"})
    assert announced.status_code == 201, announced.text


# --- signing in -------------------------------------------------------------------------------

def test_an_operator_signs_in_with_the_keyboard_and_lands_on_the_incidents(console, browser):
    browser.base_url = console.url
    browser.open("/incidents")
    assert browser.path == "/signin"
    assert browser.viewport_width() == browser.size.width
    assert browser.scroll_width() <= browser.viewport_width()
    browser.screenshot("signin")

    browser.sign_in(console.operator_token)
    assert browser.path == "/incidents"


def test_a_wrong_token_says_so_on_the_sign_in_page(console, browser):
    browser.base_url = console.url
    browser.open("/signin")
    browser.sign_in("owlo_not-a-token")
    assert browser.path == "/signin"
    assert browser.find("[role=alert]").text.startswith("Ce jeton n'est pas valide")
    assert browser.scroll_width() <= browser.viewport_width()
