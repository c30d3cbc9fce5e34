"""``owl report`` as an operator runs it: the month's report of one client written as PDF or
HTML from the bridge's database and Prometheus; a wrong client, month or database is refused in
one line naming the option, and no file is written."""

from __future__ import annotations

import pytest

from tests.support.prometheus_history import prometheus_with
from tests.support.processes import free_port
from tests.support.report_month import INVENTORY, live_the_month, month_history
from tests.support.smtp import smtp_server
from tests.test_cli_state import owl
from tests.test_report_pdf import pdf_words


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """The bridge's database after May 2026, its inventory file, and Prometheus' address."""
    folder = tmp_path_factory.mktemp("report-command")
    with smtp_server() as smtp:
        live_the_month(f"sqlite:///{folder / 'bridge.db'}", smtp.port)
        (folder / "inventory.yml").write_text(INVENTORY.format(smtp_port=smtp.port))
    with prometheus_with(month_history(), folder / "prometheus") as url:
        yield folder, url


def report(folder, *options: str, out: str = "report.pdf", database: str = "bridge.db"):
    return owl(folder, "report", "--inventory", "inventory.yml",
               "--database", f"sqlite:///{folder / database}", "--out", out, *options)


def test_the_pdf_is_written_with_the_months_figures(month):
    folder, url = month
    result = report(folder, "--client", "lune", "--month", "2026-05", "--prometheus", url,
                    out="lune.pdf")
    assert result.returncode == 0, result.stderr
    assert "lune.pdf: the report of lune for 2026-05 (pdf)" in result.stdout
    assert result.stderr == ""
    text = pdf_words((folder / "lune.pdf").read_bytes())
    assert "Total à créditer sur la facture" in text and "60,00 €" in text
    assert "Disponibilité de boutique 99,327 %" in text


def test_the_html_is_written_on_request(month):
    folder, url = month
    result = report(folder, "--client", "lune", "--month", "2026-05", "--prometheus", url,
                    "--format", "html", out="lune.html")
    assert result.returncode == 0, result.stderr
    html = (folder / "lune.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Lune Cosmétiques SAS" in html


def test_without_prometheus_the_report_is_written_and_the_missing_figures_named(month):
    folder, _ = month
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = report(folder, "--client", "lune", "--month", "2026-05",
                    "--prometheus", unreachable, out="blind.pdf")
    assert result.returncode == 0, result.stderr
    assert f"without Prometheus' figures: Prometheus at {unreachable} did not answer" \
        in result.stderr
    assert "ne sont pas disponibles" in pdf_words((folder / "blind.pdf").read_bytes())


@pytest.mark.parametrize("options, database, message", [
    (["--client", "nobody", "--month", "2026-05"], "bridge.db",
     "--client: no client 'nobody' in inventory.yml"),
    (["--client", "lune", "--month", "2026-13"], "bridge.db", "--month"),
    (["--client", "lune", "--month", "2099-01"], "bridge.db",
     "--month: 2099-01 has not started yet"),
    (["--client", "lune", "--month", "2026-05"], "missing.db", "no database at"),
])
def test_a_wrong_option_is_refused_in_one_line_and_nothing_is_written(
        month, options, database, message):
    folder, url = month
    result = report(folder, *options, "--prometheus", url, database=database, out="refused.pdf")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "refused.pdf").exists()
    assert not (folder / "missing.db").exists()
