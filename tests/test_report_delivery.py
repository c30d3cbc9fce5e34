"""The bridge's monthly job on the test's clock: May 2026's reports produced once per client,
stored with their SHA-256, emailed once with the PDF through a real SMTP server, never again
after a restart; a late change makes a new version that lists it."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import func, select

from sla_bridge.reports.build import ReportSources
from sla_bridge.reports.delivery import ReportJob, ReportProducer
from sla_bridge.reports.prometheus import Prometheus
from sla_bridge.reports.store import list_reports, report_html, report_pdf
from sla_bridge.storage.schema import Deletion, Notification
from tests.support.binaries import require_binary
from tests.support.bridge import at
from tests.support.databases import database_url_for
from tests.support.processes import free_port
from tests.support.prometheus_history import prometheus_with
from tests.support.report_month import CLIENT, MONTH, live_the_month, month_history
from tests.support.smtp import smtp_server

DUE = at("2026-06-01 08:00")  # Monday 1 June, the first working day after May


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with prometheus_with(month_history(), tmp_path_factory.mktemp("history")) as url:
        yield url


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


def job_of(test, prometheus_url: str) -> ReportJob:
    """A job as the bridge builds it, reading the test's Prometheus (a restart: a new one)."""
    bridge = test.bridge
    sources = ReportSources(bridge.service, bridge.config.inventory, Prometheus(prometheus_url))
    return ReportJob(bridge.db, bridge.config.inventory, bridge.notifier,
                     ReportProducer(sources), test.clock)


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run([require_binary("pdftotext"), "-layout", "-", "-"], input=pdf,
                            capture_output=True, check=True)
    return result.stdout.decode("utf-8")


def attachments(mail) -> list:
    return [part for part in mail.message.iter_attachments()
            if part.get_content_type() == "application/pdf"]


def sent_reports(test, smtp, count: int):
    test.bridge.notifier.wait()
    return smtp.wait_for(count)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_month_is_reported_once_per_client_emailed_once_and_never_again_after_a_restart(
        kind, tmp_path, prometheus, smtp):
    test = live_the_month(database_url_for(kind, tmp_path), smtp.port)
    security_mails = len(smtp.received)
    test.clock.now = DUE
    stored = job_of(test, prometheus).run()
    assert sorted((r.client, r.month, r.version) for r in stored) == [
        ("essai", MONTH, 1), ("lune", MONTH, 1), ("soleil", MONTH, 1)]
    # lune and essai to their contacts, three copies to the provider; soleil has no contact
    mails = sent_reports(test, smtp, security_mails + 5)[security_mails:]
    assert len(mails) == 5
    lune = [mail for mail in mails if mail.recipients == ["direction@lune.example"]]
    [pdf] = attachments(lune[0])
    assert pdf.get_filename() == "rapport-lune-2026-05-v1.pdf"
    assert "Total à créditer sur la facture" in pdf_text(pdf.get_content())
    assert "60,00" in lune[0].message.get_body(("plain",)).get_content()

    test.clock.advance(minutes=15)
    assert job_of(test, prometheus).run() == []  # a restart: a new job on the same database
    test.bridge.notifier.wait()
    assert len(smtp.received) == security_mails + 5
    assert len(list_reports(test.bridge.db, client=CLIENT)) == 1


def test_nothing_is_produced_before_the_send_time_of_the_first_working_day(
        tmp_path, prometheus, smtp):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    test.clock.now = at("2026-06-01 07:59")
    assert job_of(test, prometheus).run() == []
    assert list_reports(test.bridge.db) == []


@pytest.mark.parametrize("month, due", [
    ("2026-04", "2026-05-04 08:00"),  # 1 May (a Friday) is a holiday
    ("2026-10", "2026-11-02 08:00"),  # 1 November is a Sunday and a holiday
    ("2026-12", "2027-01-04 08:00"),  # 1 January 2027 is a Friday and a holiday
    ("2026-05", "2026-06-01 08:00"),
])
def test_the_report_is_due_on_the_first_working_day_after_the_month(
        tmp_path, prometheus, smtp, month, due):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    assert job_of(test, prometheus).due_at(month) == at(due)


def test_a_late_exclusion_makes_a_second_version_that_lists_the_change(
        tmp_path, prometheus, smtp):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    test.clock.now = DUE
    job_of(test, prometheus).run()
    test.clock.now = at("2026-06-03 11:00")
    response = test.as_operator("POST", "/api/v1/incidents/1/exclusion", json={
        "reason": "third_party", "note": "Panne électrique du centre de données, ticket 9912"})
    assert response.status_code == 200, response.json
    [second] = job_of(test, prometheus).run()
    assert (second.client, second.version) == (CLIENT, 2)
    assert "Incident n° 1 : statut SLA « dépassé » → « exclu »" in second.changes
    assert "Total à créditer : 60,00\xa0€ → 36,00\xa0€" in second.changes
    versions = list_reports(test.bridge.db, client=CLIENT)
    assert [(info.version, info.sha256 == second.sha256) for info in versions] == [
        (2, True), (1, False)]
    first, latest = versions[1], versions[0]
    assert "60,00" in pdf_text(report_pdf(test.bridge.db, first.id))
    assert "36,00" in pdf_text(report_pdf(test.bridge.db, latest.id))
    assert "Panne électrique" in report_html(test.bridge.db, latest.id)
    mails = sent_reports(test, smtp, 1)
    second_mail = [mail for mail in mails if "(version 2)" in mail.message["Subject"]
                   and mail.recipients == ["direction@lune.example"]]
    assert len(second_mail) == 1
    assert "statut SLA « dépassé » → « exclu »" in \
        second_mail[0].message.get_body(("plain",)).get_content()
    assert job_of(test, prometheus).run() == []


def test_a_trial_client_gets_a_report_without_ledger(tmp_path, prometheus, smtp):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    test.clock.now = DUE
    job_of(test, prometheus).run()
    [trial] = list_reports(test.bridge.db, client="essai")
    text = pdf_text(report_pdf(test.bridge.db, trial.id))
    assert "période d'essai" in text.lower()
    assert "Total à créditer" not in text


def test_a_client_whose_data_was_deleted_gets_no_report(tmp_path, prometheus, smtp):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    with test.bridge.db.write() as session:
        session.add(Deletion(client="soleil", terminated_on="2026-05-31", deleted_at=DUE,
                             counts={}))
    test.clock.now = DUE
    assert "soleil" not in {report.client for report in job_of(test, prometheus).run()}


def test_a_report_waits_a_day_for_prometheus_then_says_what_is_missing(tmp_path, smtp):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    unreachable = f"http://127.0.0.1:{free_port()}"
    test.clock.now = DUE
    assert job_of(test, unreachable).run() == []
    test.clock.now = at("2026-06-02 08:15")
    stored = {report.client: report for report in job_of(test, unreachable).run()}
    text = pdf_text(report_pdf(test.bridge.db, stored[CLIENT].id))
    assert "ne sont pas disponibles" in text
    assert unreachable.removeprefix("http://") in text.replace("\n", "")


def test_each_notification_of_a_report_is_recorded_with_the_report(tmp_path, prometheus, smtp):
    test = live_the_month(f"sqlite:///{tmp_path / 'bridge.db'}", smtp.port)
    test.clock.now = DUE
    stored = job_of(test, prometheus).run()
    test.bridge.notifier.wait()
    with test.bridge.db.read() as session:
        rows = session.execute(select(Notification.kind, Notification.report_id, func.count())
                               .where(Notification.report_id.is_not(None))
                               .group_by(Notification.kind, Notification.report_id)).all()
    assert {(kind, count) for kind, _, count in rows} == {("report", 1), ("report_copy", 1)}
    assert {report_id for _, report_id, _ in rows} == {report.id for report in stored}
