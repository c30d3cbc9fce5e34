"""What one monthly report costs to lay out, and how it grows with the month's incidents.

    .venv-test/bin/python bench/report_render.py [--runs 5]

Builds May 2026 of the test scenario's tier-3 client (tests/support/report_month.py, lived
through a real bridge on SQLite, no Prometheus) and times, over ``--runs`` runs each: the HTML
alone (the reference: Jinja2 and the charts), the PDF of the month (WeasyPrint), and the PDF of
the same month with 60 incidents. Prints medians and their ratios to the reference.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sla_bridge.reports.build import ReportSources, build_report  # noqa: E402
from sla_bridge.reports.document import render_html, render_pdf  # noqa: E402
from tests.support.report_month import CLIENT, MONTH, live_the_month  # noqa: E402
from tests.support.smtp import smtp_server  # noqa: E402


def median_seconds(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, smtp_server() as smtp:
        test = live_the_month(f"sqlite:///{Path(folder) / 'bridge.db'}", smtp.port)
        sources = ReportSources(test.bridge.service, test.bridge.config.inventory, None)
        content = build_report(sources, CLIENT, MONTH, test.clock.now)
    first = content.incidents[0]
    crowded = dataclasses.replace(content, incidents=tuple(
        dataclasses.replace(first, id=1000 + number) for number in range(60)))
    render_pdf(content)  # warm-up: fonts and WeasyPrint's caches
    html = median_seconds(lambda: render_html(content), args.runs)
    pdf = median_seconds(lambda: render_pdf(content), args.runs)
    long_pdf = median_seconds(lambda: render_pdf(crowded), args.runs)
    print(f"HTML (reference)          {html * 1000:8.1f} ms")
    print(f"PDF, the month (7 inc.)   {pdf * 1000:8.1f} ms   x{pdf / html:.0f}")
    print(f"PDF, 60 incidents         {long_pdf * 1000:8.1f} ms   x{long_pdf / html:.0f}"
          f"   ({long_pdf / pdf:.1f} x the month's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
