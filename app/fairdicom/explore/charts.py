"""Charts as inline SVG, drawn on the server: readable without JavaScript, labelled for
screen readers (``role="img"``, ``<title>``, ``<desc>``, a ``<title>`` on every bar).

A hidden (small) count is drawn as long as the threshold and hatched, with the label "<5":
the bar says no more than its label.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from fairdicom.explore.cells import Cell

WIDTH = 560
LABEL_WIDTH = 190
VALUE_WIDTH = 70
ROW = 22
BAR = 15
TOP = 6


@dataclass(frozen=True)
class Bar:
    """One bar: what it stands for, its count, and the class that colours it."""

    label: str
    cell: Cell
    group: str = ""


def bar_chart(chart_id: str, title: str, unit: str, bars: list[Bar], legend: list[str]) -> str:
    """Return a horizontal bar chart as an ``<svg>`` element (one row per bar)."""
    if not bars:
        return (
            f'<p class="chart-empty" id="{escape(chart_id)}">{escape(title)}: no series '
            "in this selection.</p>"
        )
    longest = max(bar.cell.bar for bar in bars) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = TOP * 2 + ROW * len(bars)
    summary = "; ".join(f"{bar.label}: {bar.cell.text} {unit}" for bar in bars)
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(summary)}</desc>',
        '<defs><pattern id="' + escape(chart_id) + '-hatch" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" class="hatch-ground"/>'
        '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line" stroke-width="3"/></pattern></defs>',
    ]
    for index, bar in enumerate(bars):
        y = TOP + index * ROW
        length = max(1, round(span * bar.cell.bar / longest)) if bar.cell.bar else 0
        group = f" group-{legend.index(bar.group)}" if bar.group in legend else ""
        fill = f' fill="url(#{escape(chart_id)}-hatch)"' if bar.cell.suppressed else ""
        label = f"{bar.label} {bar.group}".strip() if bar.group else bar.label
        parts.append(
            f'<g class="bar{group}{" suppressed" if bar.cell.suppressed else ""}">'
            f"<title>{escape(label)}: {escape(bar.cell.text)} {escape(unit)}</title>"
            f'<text class="bar-label" x="{LABEL_WIDTH - 6}" y="{y + BAR - 3}" '
            f'text-anchor="end">{escape(_short(label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR}"{fill}/>'
            f'<text class="bar-value" x="{LABEL_WIDTH + length + 4}" y="{y + BAR - 3}">'
            f"{escape(bar.cell.text)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, most: int = 30) -> str:
    """Return ``text`` cut to fit the label column."""
    return text if len(text) <= most else text[: most - 1] + "…"
