"""Client notifications through a real SMTP server: security incidents, maintenance windows,
suspended clients, failures and retries, STARTTLS and the password; on SQLite and PostgreSQL."""

import datetime as dt
import ssl
import subprocess

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from owl.inventory import parse_inventory
from sla_bridge.app import BridgeConfig, create_app
from sla_bridge.notify import read_smtp_password
from sla_bridge.storage.schema import Incident, Notification
from sla_bridge.webhook import parse_payload
from tests.support.bridge import WEBHOOK_TOKEN, Clock, alert, at, make_bridge, rfc3339, webhook
from tests.support.processes import free_port
from tests.support.smtp import notifying_inventory, smtp_server

UTC = dt.timezone.utc
TEN_AM = at("2025-03-07 10:00")


@pytest.fixture
def bridges(database_url):
    """Builds bridges on the test's database, and closes them after the test."""
    built = []

    def build(inventory_text: str, now: dt.datetime = TEN_AM):
        bridge = make_bridge(database_url, now, inventory_text)
        built.append(bridge.bridge)
        return bridge

    yield build
    for bridge in built:
        bridge.notifier.close()
        bridge.db.dispose()


def security_alert(client="acme", site="shop", starts_at=None) -> dict:
    return alert(alertname="WebshellDetected", client=client, site=site, category="security",
                 starts_at=starts_at or at("2025-03-07 09:58"))


def notifications(tb) -> list[Notification]:
    with tb.bridge.db.read() as session:
        return session.scalars(select(Notification).order_by(Notification.id)).all()


def incident_row(tb) -> Incident:
    with tb.bridge.db.read() as session:
        return session.scalars(select(Incident)).one()


def test_a_security_incident_is_emailed_at_once_and_the_time_recorded(bridges, smtp):
    tb = bridges(notifying_inventory(smtp.port))
    assert tb.post_alerts(security_alert()).status_code == 200
    tb.bridge.notifier.wait()
    [mail] = smtp.received
    assert mail.sender == "monitoring@owl-systems.example"
    assert mail.recipients == ["ops@acme.example", "boss@acme.example"]
    assert mail.message["Subject"] == \
        "[OWL SYSTEMS] Incident de sécurité : WebshellDetected on shop"
    body = mail.message.get_content()
    assert "Bonjour ACME SARL," in body
    assert "Détecté le : 07/03/2025 09:58 (Europe/Paris)" in body
    [incident] = tb.incidents()
    assert incident["security"] is True
    assert incident["security_notified_at"] == rfc3339(tb.clock.now)
    [row] = notifications(tb)
    assert (row.kind, row.incident_id, row.sent_at, row.error, row.attempts) == (
        "security", incident["id"], tb.clock.now, None, 1)


def test_the_client_is_emailed_when_a_window_is_announced_and_when_it_is_cancelled(
        bridges, smtp, alertmanager):
    now = dt.datetime.now(UTC).replace(microsecond=0)
    tb = bridges(notifying_inventory(smtp.port, alertmanager.url.removeprefix("http://")), now)
    start = now + dt.timedelta(hours=48)
    created = tb.as_operator("POST", "/api/v1/maintenances", json={
        "client": "acme", "targets": ["shop"], "starts_at": rfc3339(start),
        "ends_at": rfc3339(start + dt.timedelta(hours=2)), "description": "Mise à jour PHP"}).json
    tb.bridge.notifier.wait()
    tb.clock.advance(minutes=10)
    tb.as_operator("DELETE", f"/api/v1/maintenances/{created['id']}")
    tb.bridge.notifier.wait()
    announced, cancelled = smtp.received
    assert announced.message["Subject"].startswith("[OWL SYSTEMS] Maintenance planifiée du ")
    assert f"maintenance n° {created['id']}" in announced.message.get_content()
    assert "Périmètre : shop" in announced.message.get_content()
    assert "annulée" in cancelled.message["Subject"]
    assert [(row.kind, row.maintenance_id, row.sent_at) for row in notifications(tb)] == [
        ("maintenance_created", created["id"], now),
        ("maintenance_cancelled", created["id"], now + dt.timedelta(minutes=10))]


def test_a_suspended_client_gets_no_email_and_the_suppression_is_recorded(
        bridges, smtp, alertmanager):
    now = dt.datetime.now(UTC).replace(microsecond=0)
    tb = bridges(notifying_inventory(smtp.port, alertmanager.url.removeprefix("http://")), now)
    tb.post_alerts(security_alert(client="initech", site="portal", starts_at=now))
    response = tb.as_operator("POST", "/api/v1/maintenances", json={
        "client": "initech", "targets": None, "starts_at": rfc3339(now),
        "ends_at": rfc3339(now + dt.timedelta(hours=1)), "description": "Urgence",
        "emergency": True})
    assert response.status_code == 201
    tb.clock.advance(minutes=10)
    assert tb.bridge.notifier.retry() == 0
    tb.bridge.notifier.wait()
    assert smtp.received == []
    assert [(row.kind, row.sent_at, row.error) for row in notifications(tb)] == [
        ("security", None, "suppressed: client suspended"),
        ("maintenance_created", None, "suppressed: client suspended")]
    assert tb.bridge.registry.get_sample_value(  # suppressed on purpose: nothing is waiting
        "owl_notifications_unsent", {"client": "initech", "kind": "security"}) is None
    assert incident_row(tb).security_notified_at is None


@pytest.mark.parametrize("refusal, recorded", [
    ("451 4.3.0 Try again later", "SMTP 451 4.3.0 Try again later"),
    ("554 5.7.1 Message rejected", "SMTP 554 5.7.1 Message rejected"),
])
def test_an_smtp_refusal_is_recorded_not_raised_and_retried(
        bridges, smtp, refusal, recorded):
    tb = bridges(notifying_inventory(smtp.port))
    smtp.refuse(refusal)
    assert tb.post_alerts(security_alert()).status_code == 200
    tb.bridge.notifier.wait()
    [row] = notifications(tb)
    assert (row.sent_at, row.error) == (None, recorded)
    assert incident_row(tb).security_notified_at is None
    smtp.refuse(None)
    tb.clock.advance(minutes=2)
    assert tb.bridge.notifier.retry() == 1
    assert len(smtp.received) == 1
    [row] = notifications(tb)
    assert (row.sent_at, row.error, row.attempts) == (tb.clock.now, None, 2)
    assert incident_row(tb).security_notified_at == tb.clock.now
    assert tb.bridge.notifier.retry() == 0


def test_an_unreachable_relay_is_recorded_and_the_mail_sent_once_it_is_back(bridges):
    port = free_port()
    tb = bridges(notifying_inventory(port))
    assert tb.post_alerts(security_alert()).status_code == 200
    tb.bridge.notifier.wait()
    [row] = notifications(tb)
    assert row.error.startswith("ConnectionRefusedError")
    unsent = {"client": "acme", "kind": "security"}
    assert tb.bridge.registry.get_sample_value("owl_notifications_unsent", unsent) == 1
    with smtp_server(port=port) as relay:
        tb.clock.advance(minutes=2)
        assert tb.bridge.notifier.retry() == 1
        assert len(relay.received) == 1
    assert incident_row(tb).security_notified_at == tb.clock.now
    assert tb.bridge.registry.get_sample_value("owl_notifications_unsent", unsent) is None


def test_a_security_incident_stored_without_its_notification_is_caught_up_by_the_retry_job(
        bridges, smtp):
    tb = bridges(notifying_inventory(smtp.port))
    tb.bridge.service.ingest(parse_payload(webhook(security_alert()), tb.clock.now))
    assert tb.bridge.notifier.retry() == 0  # a request may still be recording it
    tb.clock.advance(minutes=6)
    tb.bridge.notifier.retry()
    tb.bridge.notifier.wait()
    assert len(smtp.received) == 1
    assert incident_row(tb).security_notified_at == tb.clock.now
    tb.bridge.notifier.retry()
    tb.bridge.notifier.wait()
    assert len(smtp.received) == 1


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1, trusted through SSL_CERT_FILE."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


@pytest.mark.parametrize("password, sent", [("s3cret-pass", True), ("wrong-pass", False)])
def test_starttls_and_login_use_the_password_from_the_environment(
        database_url, certificate, monkeypatch, caplog, password, sent):
    cert, tls = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setenv("OWL_SMTP_PASSWORD", password)

    def authenticate(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=(auth_data.login, auth_data.password) ==
                          (b"owl", b"s3cret-pass"), handled=False)

    with smtp_server(tls_context=tls, require_starttls=True, authenticator=authenticate,
                     auth_require_tls=True) as relay:
        inventory = parse_inventory(notifying_inventory(relay.port, starttls="true",
                                                        username="owl"))
        app = create_app(BridgeConfig(
            database_url, inventory, WEBHOOK_TOKEN, clock=Clock(TEN_AM),
            smtp_password=read_smtp_password(inventory.provider.smtp)))
        bridge = app.extensions["owl"]
        response = app.test_client().post("/api/v1/alerts", json=webhook(security_alert()),
                                          headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert response.status_code == 200
        bridge.notifier.close()
        assert len(relay.received) == (1 if sent else 0)
    with bridge.db.read() as session:
        row = session.scalars(select(Notification)).one()
    bridge.db.dispose()
    assert (row.sent_at is not None) is sent
    if not sent:
        assert row.error.startswith("SMTP 535")
    assert password not in (row.error or "") and password not in caplog.text


@pytest.mark.parametrize("environment, file_text, expected", [
    ("from-env", "from-file\n", "from-env"),
    (None, "from-file\nsecond line\n", "from-file"),
    (None, None, None),
])
def test_the_smtp_password_comes_from_the_environment_or_its_file(
        tmp_path, monkeypatch, environment, file_text, expected):
    monkeypatch.delenv("OWL_SMTP_PASSWORD", raising=False)
    if environment:
        monkeypatch.setenv("OWL_SMTP_PASSWORD", environment)
    extra = {}
    if file_text is not None:
        (tmp_path / "password").write_text(file_text)
        extra["password_file"] = str(tmp_path / "password")
    inventory = parse_inventory(notifying_inventory(25, **extra))
    assert read_smtp_password(inventory.provider.smtp) == expected


def test_an_empty_password_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OWL_SMTP_PASSWORD", raising=False)
    (tmp_path / "password").write_text("\n")
    inventory = parse_inventory(notifying_inventory(25, password_file=tmp_path / "password"))
    with pytest.raises(ValueError, match="empty"):
        read_smtp_password(inventory.provider.smtp)
