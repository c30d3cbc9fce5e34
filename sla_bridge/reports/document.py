"""The report laid out: one set of Jinja2 templates (``templates/monthly*.html``) for the HTML
and, through WeasyPrint, the PDF.

The HTML stands alone (its CSS inline, its charts inline SVG, no script, no outside resource), so
that the stored copy shows the same in ten years. WeasyPrint lays that same HTML out on A4 with
the fonts of the machine (Debian's DejaVu); :func:`overflowing_boxes` finds any box that its
layout pushed past the page, which a clean report has none of.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sla_bridge.reports import words
from sla_bridge.reports.chart import daily_chart
from sla_bridge.reports.model import ReportContent, TargetAvailability

if TYPE_CHECKING:
    import weasyprint

# A box may end this far past the content area (rounding of the layout) without overflowing.
TOLERANCE_PX = 0.5


def _instant(value: str | None) -> dt.datetime | None:
    """An RFC 3339 time of the ledger's JSON, back to a datetime for display."""
    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _chart(target: TargetAvailability) -> Markup:
    return Markup(daily_chart(target))  # pygal's SVG, its texts escaped by pygal


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("sla_bridge.reports", "templates"),
                              autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(words.FILTERS, instant=_instant)
    environment.globals.update(words.LABELS, chart=_chart, late=words.late)
    return environment


ENVIRONMENT = _environment()


def render_html(content: ReportContent) -> str:
    css = resources.files("sla_bridge.reports").joinpath("templates/monthly.css").read_text(
        encoding="utf-8")
    return ENVIRONMENT.get_template("monthly.html").render(report=content, css=Markup(css))


def layout(content: ReportContent) -> weasyprint.Document:
    # imported here: WeasyPrint (and its fonts) take 0.9 s to import, which every bridge start
    # paid for a report written once a month
    import weasyprint

    return weasyprint.HTML(string=render_html(content)).render()


def render_pdf(content: ReportContent) -> bytes:
    return layout(content).write_pdf()


def overflowing_boxes(document: weasyprint.Document) -> list[str]:
    """Each box that ends past its page's content area: "page 2: td 'https://...'"."""
    found = []
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box  # WeasyPrint's layout tree; no public API exposes it
        left, top = page_box.content_box_x(), page_box.content_box_y()
        right, bottom = left + page_box.width, top + page_box.height
        for box in _content_boxes(page_box):
            if box.position_x + box.margin_width() > right + TOLERANCE_PX \
                    or box.position_y + box.margin_height() > bottom + TOLERANCE_PX \
                    or box.position_x < left - TOLERANCE_PX:
                found.append(f"page {number}: {box.element_tag} {_text(box)!r}")
    return found


def _content_boxes(page_box):
    """The boxes of the document's content on a page, not the page's margin boxes (footer)."""
    for child in page_box.children:
        if type(child).__name__ == "MarginBox":
            continue
        yield from child.descendants()


def _text(box) -> str:
    texts = [getattr(item, "text", "") for item in box.descendants()]
    return "".join(text for text in texts if text)[:60]
