"""Inline SVG charts for report.html, drawn here so that the page needs nothing from a network.

Each function returns an <svg> element as text; every label passes through `esc` (labels can come
from Telesign's descriptions or a campaign's files). Sizes are in user units with a viewBox, so the
charts scale with the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

VIBER = "#7360f2"
SMS = "#2e9e5b"
FAILED = "#d64545"
PENDING = "#a0a4ab"
NEUTRAL = "#4a6fa5"


def esc(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    color: str = NEUTRAL
    note: str = ""  # shown after the value, e.g. "42.0 %"


def hbars(bars: Sequence[Bar], title: str, width: int = 480, label_width: int = 170) -> str:
    """Horizontal bars, longest = full width: a funnel, channels, countries."""
    row, gap = 26, 6
    height = len(bars) * (row + gap) + gap
    most = max((b.value for b in bars), default=0) or 1
    room = width - label_width - 110
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = gap + i * (row + gap)
        length = round(room * bar.value / most, 1) if bar.value else 0
        text = f"{bar.value:,}" + (f"  {bar.note}" if bar.note else "")
        baseline = f"{y + row * 0.68:.1f}"
        parts.append(
            f'<text x="{label_width - 8}" y="{baseline}" text-anchor="end" class="label">{esc(bar.label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{row}" rx="3" fill="{bar.color}"/>'
            f'<text x="{label_width + length + 6}" y="{baseline}" class="value">{esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stacked(bars: Sequence[Bar], title: str, width: int = 640) -> str:
    """One bar split into parts (delivered on Viber / by SMS / failed / in progress)."""
    height = 34
    total = sum(b.value for b in bars) or 1
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
    ]
    x = 0.0
    for bar in bars:
        if not bar.value:
            continue
        length = width * bar.value / total
        parts.append(
            f'<rect x="{x:.1f}" y="2" width="{length:.1f}" height="{height - 4}" fill="{bar.color}">'
            f"<title>{esc(bar.label)}: {bar.value:,}</title></rect>"
        )
        x += length
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    color: str


def timeline(labels: Sequence[str], series: Sequence[Series], title: str, width: int = 900, height: int = 200) -> str:
    """Columns per bucket, one colour per series side by side, with a y axis and a few time labels."""
    left, bottom, top = 44, 28, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    n = max(len(labels), 1)
    most = max((v for s in series for v in s.values), default=0) or 1
    slot = plot_w / n
    bar_w = min(max(slot / (len(series) + 0.5), 0.5), 24.0)  # one bucket alone stays a column, not a wall
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" class="axis"/>',
    ]
    for tick in (0, most // 2, most) if most > 1 else (0, most):
        y = top + plot_h - plot_h * tick / most
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick:,}</text>'
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" class="grid"/>'
        )
    for i, label in enumerate(labels):
        for j, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / most
            x = left + i * slot + (slot - bar_w * len(series)) / 2 + j * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{s.color}">'
                f"<title>{esc(label)} {esc(s.name)}: {value:,}</title></rect>"
            )
    step = max(1, n // 6)
    for i in range(0, n, step):
        x = left + i * slot + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" class="tick">{esc(short_time(labels[i]))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def short_time(key: str) -> str:
    """A bucket key as a time label: 16:05 for a minute, 16h for an hour, 12-01 for a day."""
    if len(key) == 16:
        return key[11:]
    if len(key) == 13:
        return key[5:10] + " " + key[11:] + "h"
    return key[5:]


def legend(series: Sequence[Series]) -> str:
    return "".join(
        f'<span class="key"><span class="swatch" style="background:{s.color}"></span>{esc(s.name)}</span>'
        for s in series
    )
