"""The daily availability of one target as an SVG bar chart (pygal), inline in the report.

Bars are grey, a day below the month's target line dark; a day without any measured minute has
no bar and its label says so, since a blind day is not a day down. The chart has no script
(pygal always writes its interactive configuration as one; it is taken out of the tree before
the markup is written): the PDF, a browser and a mail reader show it the same.
"""

from __future__ import annotations

import math

import pygal
from pygal.style import Style

from sla_bridge.reports.model import TargetAvailability

WIDTH, HEIGHT = 680, 190  # px at 96 dpi: the width of an A4 page's text
STYLE = Style(background="white", plot_background="white", foreground="#333",
              foreground_strong="#111", foreground_subtle="#bbb", colors=("#777",),
              font_family="DejaVu Sans, Liberation Sans, sans-serif", label_font_size=9,
              major_label_font_size=9, title_font_size=11, value_font_size=8)


def daily_chart(target: TargetAvailability) -> str:
    """The SVG markup of ``target``'s days (no XML declaration: it is embedded in HTML)."""
    ratios = [None if day.ratio is None else round(day.ratio * 100, 3) for day in target.days]
    bottom = _floor(ratios)
    chart = pygal.Bar(width=WIDTH, height=HEIGHT, style=STYLE, show_legend=False, js=[],
                      disable_xml_declaration=True, range=(bottom, 100), zero=bottom,
                      y_title="% du temps mesuré", x_label_rotation=0, print_values=False,
                      show_minor_x_labels=True, truncate_label=-1, margin=6,
                      explicit_size=True)
    chart.add_xml_filter(_without_scripts)
    chart.x_labels = [str(day.day.day) for day in target.days]
    chart.add(target.target, ratios)
    return chart.render(is_unicode=True)


def _without_scripts(root):
    for parent in list(root.iter()):
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _floor(ratios: list[float | None]) -> float:
    """The chart's bottom: a little under the worst day, so that small dips show."""
    measured = [ratio for ratio in ratios if ratio is not None]
    worst = min(measured, default=100.0)
    if worst >= 99.5:
        return 99.0
    return max(0.0, math.floor(worst - (100 - worst) * 0.1))
