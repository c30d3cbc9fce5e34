"""The PDF a client receives says what the API and Prometheus say: May 2026 of ``lune``
(tests/support/report_month.py: a capped ledger, an excluded incident, a maintenance window, a
holiday, a security incident), read back from the PDF with poppler's ``pdftotext``, each page
rendered with ``pdftoppm`` into build/report-pages/ (the README names the folder), and laid out
without a box past the page, also for a month far longer than usual."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
import re
import subprocess
from decimal import Decimal

import pytest

from sla_bridge.reports.document import layout, overflowing_boxes, render_html
from tests.support.binaries import require_binary
from tests.support.bridge import at
from tests.support.prometheus_history import prometheus_with
from tests.support.report_month import CLIENT, MONTH, live_the_month, month_history
from tests.support.smtp import smtp_server
from tests.test_report_content import content_of, dashboard_value

PAGES_FOLDER = pathlib.Path(__file__).resolve().parent.parent / "build" / "report-pages"


@dataclasses.dataclass(frozen=True)
class Produced:
    test: object
    prometheus: str
    content: object
    document: object
    pdf: bytes
    text: str  # pdftotext's, whitespace collapsed


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-pdf")
    with smtp_server() as smtp:
        test = live_the_month(f"sqlite:///{folder / 'bridge.db'}", smtp.port)
    with prometheus_with(month_history(), folder / "prometheus") as url:
        content = content_of(test, url)
        document = layout(content)
        pdf = document.write_pdf()
        yield Produced(test, url, content, document, pdf, pdf_words(pdf))


def pdf_words(pdf: bytes) -> str:
    """The PDF's text in the order it was drawn (``-raw``: a table cell's lines stay together),
    every run of spaces, no-break ones included, as one."""
    result = subprocess.run([require_binary("pdftotext"), "-raw", "-", "-"], input=pdf,
                            capture_output=True, check=True)
    return " ".join(result.stdout.decode("utf-8").split())


def section(text: str, title: str, next_title: str) -> str:
    start = text.index(f" {title} ")
    return text[start:text.index(f" {next_title} ", start)]


def euros(amount: str) -> str:
    """A JSON amount ("-12.00") as French writes it ("-12,00 €"), whitespace collapsed."""
    whole, cents = f"{Decimal(amount):,.2f}".split(".")
    return f"{whole.replace(',', ' ')},{cents} €"


def percent(ratio: float) -> str:
    return f"{100 * ratio:.3f} %".replace(".", ",")


def render_pages(pdf: bytes, name: str) -> list[pathlib.Path]:
    """Each page as a PNG under build/report-pages/, the old ones of ``name`` replaced."""
    PAGES_FOLDER.mkdir(parents=True, exist_ok=True)
    for old in PAGES_FOLDER.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run([require_binary("pdftoppm"), "-png", "-r", "60", "-", str(PAGES_FOLDER / name)],
                   input=pdf, check=True)
    return sorted(PAGES_FOLDER.glob(f"{name}-*.png"))


def test_the_ledger_in_the_pdf_is_the_ledger_of_the_api_line_by_line(report):
    api = report.test.as_operator("GET", "/api/v1/ledger",
                                  query_string={"client": CLIENT, "month": MONTH}).json
    ledger = section(report.text, "Pénalités", "Maintenances")
    amounts = [euros(line["amount"]) for line in api["lines"]] + [euros(api["total"])]
    assert amounts == ["36,00 €", "36,00 €", "-12,00 €", "60,00 €"]
    found = [match.group(0) for match in re.finditer(r"-?\d[\d ]*,\d\d €", ledger)]
    assert found[-len(amounts):] == amounts
    for line in api["lines"]:
        if line["incident_id"] is not None:
            assert f"Incident n° {line['incident_id']}" in ledger
    assert "Total à créditer sur la facture" in ledger
    assert "plafonné à 5 % de la redevance mensuelle (1 200,00 €)" in ledger


def test_the_summary_counts_the_incidents_the_api_lists_for_the_month(report):
    listed = report.test.incidents(client=CLIENT, month=MONTH, limit=500)
    assert f"Incidents du mois {len(listed)} " in report.text
    incidents = section(report.text, "Incidents", "Incidents de sécurité")
    for row in listed:
        assert re.search(rf"(^| ){row['id']} (critique|majeur|mineur) ", incidents), row["id"]


def test_the_availability_in_the_pdf_is_what_prometheus_computes(report):
    for site in ("boutique", "vitrine"):
        measured = dashboard_value(report.prometheus, "Availability this month", site)
        assert f"Disponibilité de {site} {percent(measured)}" in report.text
    assert "Disponibilité de boutique 99,327 %" in report.text  # 5 h down of 30 d 23 h measured
    assert "Disponibilité de vitrine 99,910 %" in report.text   # 40 min of 31 days
    assert report.prometheus.removeprefix("http://") in report.text.replace(" ", "")


def test_the_excluded_incident_shows_its_reason_and_note(report):
    incidents = section(report.text, "Incidents", "Incidents de sécurité")
    assert "exclu motif : défaillance d'un tiers (hébergeur ou autre prestataire) " \
           "Panne du réseau de l'hébergeur, ticket 88231" in incidents


def test_the_deadline_moved_by_the_holiday_names_it(report):
    assert "échéance 11 mai 2026 11:00 heures ouvrées, reportée par le férié du vendredi 8 " \
           "mai 2026" in report.text


def test_the_security_incident_shows_when_the_client_was_notified(report):
    security = section(report.text, "Incidents de sécurité", "Pénalités")
    notified = report.content.security_incidents[0].security_notified_at
    assert notified == at("2026-05-26 09:30")
    assert "Client notifié le" in security
    assert "7 vitrine : SiteDefaced on vitrine 26 mai 2026 09:30 26 mai 2026 09:30" in security


def test_the_maintenance_windows_show_their_notice_and_kind(report):
    windows = section(report.text, "Maintenances", "Sécurité et mises à jour")
    assert "du 21 mai 2026 22:00 au 21 mai 2026 23:00" in windows
    assert "18 mai 2026 10:00 par alice 84 h planifiée" in windows
    assert "0 h urgence" in windows
    assert "maintenance planifiée pendant la maintenance n° 1" in report.text


def test_the_header_names_the_contract_that_applies(report):
    header = section(report.text, "Contrat", "En bref")
    for expected in ("Lune Cosmétiques SAS (lune)", "DEV-2026-0117", "niveau 3",
                     "1 200,00 € HT", "version 2.0 du 24 janvier 2025",
                     "du 1 mai 2026 00:00 au 1 juin 2026 00:00 (Europe/Paris)",
                     "Produit le 1 juin 2026 10:00"):
        assert expected in header


def test_every_page_is_rendered_and_nothing_overflows_it(report):
    pages = render_pages(report.pdf, "lune-2026-05")
    assert len(pages) == len(report.document.pages) == 4
    assert all(page.stat().st_size > 10_000 for page in pages)  # drawn, not blank
    assert overflowing_boxes(report.document) == []
    assert "page 4 / 4" in report.text


def test_a_long_month_with_long_names_stays_inside_the_pages(report):
    first = report.content.incidents[0]
    many = tuple(dataclasses.replace(
        first, id=1000 + number, alertname="SiteCertificateExpiresSoonOnEveryMirror",
        target="boutique-internationale-" + "tres-long-" * 4 + str(number),
        exclusion_note="Note de l'opérateur " * 8 if number % 3 == 0 else None,
        started_at=first.started_at + dt.timedelta(hours=number))
        for number in range(60))
    crowded = dataclasses.replace(report.content, incidents=many)
    document = layout(crowded)
    assert overflowing_boxes(document) == []
    assert 6 <= len(document.pages) <= 16
    text = pdf_words(document.write_pdf())
    assert all(f"{1000 + number} critique" in text for number in range(60))
    render_pages(document.write_pdf(), "long-month")


def test_the_html_stands_alone(report):
    html = render_html(report.content)
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<svg" in html  # the daily charts, inline
