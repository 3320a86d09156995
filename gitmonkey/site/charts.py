"""Inline SVG charts for the static site, drawn at build time: no chart library, no script.

A chart is an ``<svg role="img">`` with a ``<title>`` (its accessible name) and a ``<desc>`` that
summarises the data in words for screen readers. Colours come from classes styled in ``site.css``
(the site's Content-Security-Policy forbids inline styles); series also differ by dash pattern and
are named in a legend, so no information is carried by colour alone. Every label is escaped: series
names are account names, which are untrusted.

Dates are ISO ``YYYY-MM-DD`` strings (a longer ISO date-time is read by its date). The x axis is a
time scale when every date parses, otherwise the points are spaced evenly in sorted order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import date

from markupsafe import Markup, escape

SERIES_STYLES = 8
"""Distinct series styles in site.css (``series-0`` .. ``series-7``); more series reuse them."""
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 14, 12, 30
_LEGEND_ROW = 20
_LEGEND_ITEM = 170
_LEGEND_CHARS = 22
_MARKERS_UP_TO = 62
"""Series with at most this many points get a marker (with a tooltip) on each point."""


def line_chart(
    series: dict[str, list[tuple[str, int]]],
    title: str,
    *,
    width: int = 640,
    height: int = 200,
    unit: str = "open issues",
) -> Markup:
    """One line per series on a shared y axis starting at 0, with axis labels and a legend."""
    named = [(str(name), sorted(points)) for name, points in series.items()]
    all_points = [p for _, points in named for p in points]
    legend_rows = math.ceil(len(named) / max(1, (width - _LEFT) // _LEGEND_ITEM)) if named else 0
    total_height = height + legend_rows * _LEGEND_ROW
    chart_id = _chart_id("line", title, repr(named))
    summary = _line_summary(named, unit)
    parts = [_open(chart_id, title, summary, width, total_height, "chart line-chart")]
    if not all_points:
        parts.append(_no_data(width, height))
        parts.append("</svg>")
        return _svg(parts)

    x_of = _x_scale([d for d, _ in all_points], width)
    top = _nice_max(max(v for _, v in all_points))
    y_of = _y_scale(top, height)
    parts.append(_axes(top, y_of, x_of, [d for d, _ in all_points], width, height))
    for index, (name, points) in enumerate(named):
        css = f"series series-{index % SERIES_STYLES}"
        coords = [(x_of(d), y_of(v)) for d, v in points]
        if len(coords) > 1:
            d_attr = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}" for i, (x, y) in enumerate(coords))
            parts.append(f'<path class="{css}" d="{d_attr}"/>')
        if coords and (len(coords) <= _MARKERS_UP_TO or len(coords) == 1):
            parts.append(f'<g class="{css} markers">')
            for (day, value), (x, y) in zip(points, coords, strict=True):
                label = escape(f"{name}, {day}: {value} {unit}")
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{label}</title></circle>')
            parts.append("</g>")
    parts.append(_legend(named, width, height))
    parts.append("</svg>")
    return _svg(parts)


def bar_chart(
    points: list[tuple[str, int]],
    title: str,
    *,
    width: int = 640,
    height: int = 160,
    unit: str = "changes",
) -> Markup:
    """One bar per date (e.g. changes per day) on a y axis starting at 0."""
    points = sorted((str(d), int(v)) for d, v in points)
    chart_id = _chart_id("bar", title, repr(points))
    parts = [_open(chart_id, title, _bar_summary(points, unit), width, height, "chart bar-chart")]
    if not points:
        parts.append(_no_data(width, height))
        parts.append("</svg>")
        return _svg(parts)

    days = [d for d, _ in points]
    x_of = _x_scale(days, width)
    top = _nice_max(max(v for _, v in points))
    y_of = _y_scale(top, height)
    parts.append(_axes(top, y_of, x_of, days, width, height))
    slots = _slot_count(days)
    plot = width - _LEFT - _RIGHT
    bar = max(1.0, min(24.0, plot / slots * 0.8))
    parts.append('<g class="bars">')
    for day, value in points:
        x, y = x_of(day), y_of(value)
        label = escape(f"{day}: {value} {unit}")
        parts.append(
            f'<rect x="{x - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{y_of(0) - y:.1f}">'
            f"<title>{label}</title></rect>"
        )
    parts.append("</g></svg>")
    return _svg(parts)


def _svg(parts: list[str]) -> Markup:
    """The chart's SVG; every piece of text in ``parts`` was escaped where it was made."""
    return Markup("".join(parts))  # noqa: S704


# --- layout -----------------------------------------------------------------------------------------


def _open(chart_id: str, title: str, summary: str, width: int, height: int, css: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>'
    )


def _no_data(width: int, height: int) -> str:
    return (
        f'<rect class="plot-frame" x="{_LEFT}" y="{_TOP}" width="{width - _LEFT - _RIGHT}" '
        f'height="{height - _TOP - _BOTTOM}"/>'
        f'<text class="no-data" x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle">No data</text>'
    )


def _axes(
    top: int,
    y_of: Callable[[int], float],
    x_of: Callable[[str], float],
    days: list[str],
    width: int,
    height: int,
) -> str:
    parts = ['<g class="axes">']
    for tick in _ticks(top):
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick y-tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    base = y_of(0)
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{width - _RIGHT}" y1="{base:.1f}" y2="{base:.1f}"/>')
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{base:.1f}"/>')
    for day, anchor in _x_labels(sorted(set(days))):
        x = x_of(day)
        parts.append(
            f'<text class="tick x-tick" x="{x:.1f}" y="{base + 18:.1f}" text-anchor="{anchor}">'
            f"{escape(day[:10])}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _x_labels(days: list[str]) -> list[tuple[str, str]]:
    """First and last date (and the middle one when there are several), with their anchors."""
    if len(days) == 1:
        return [(days[0], "middle")]
    labels = [(days[0], "start"), (days[-1], "end")]
    if len(days) >= 5:
        labels.insert(1, (days[len(days) // 2], "middle"))
    return labels


def _legend(named: list[tuple[str, list[tuple[str, int]]]], width: int, height: int) -> str:
    per_row = max(1, (width - _LEFT) // _LEGEND_ITEM)
    parts = ['<g class="legend">']
    for index, (name, _) in enumerate(named):
        row, column = divmod(index, per_row)
        x = _LEFT + column * _LEGEND_ITEM
        y = height + row * _LEGEND_ROW + 2
        shown = name if len(name) <= _LEGEND_CHARS else name[: _LEGEND_CHARS - 1] + "\u2026"
        css = f"series series-{index % SERIES_STYLES}"
        parts.append(
            f"<g><title>{escape(name)}</title>"
            f'<line class="{css}" x1="{x}" x2="{x + 22}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="legend-label" x="{x + 28}" y="{y + 4:.1f}">{escape(shown)}</text></g>'
        )
    parts.append("</g>")
    return "".join(parts)


# --- scales -----------------------------------------------------------------------------------------


def _parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _x_scale(days: list[str], width: int) -> Callable[[str], float]:
    """A function from a date string to its x coordinate in the plot area."""
    left, right = _LEFT + 8, width - _RIGHT - 8
    unique = sorted(set(days))
    parsed = {d: _parse_day(d) for d in unique}
    if all(parsed.values()):
        ordinals = {d: p.toordinal() for d, p in parsed.items() if p}
    else:
        ordinals = {d: i for i, d in enumerate(unique)}
    low, high = min(ordinals.values()), max(ordinals.values())
    if low == high:
        return lambda day: (left + right) / 2
    return lambda day: left + (ordinals[day] - low) * (right - left) / (high - low)


def _slot_count(days: list[str]) -> int:
    parsed = [_parse_day(d) for d in days]
    if all(parsed):
        ordinals = [p.toordinal() for p in parsed if p]
        return max(ordinals) - min(ordinals) + 1
    return len(set(days))


def _y_scale(top: int, height: int) -> Callable[[int], float]:
    bottom, upper = height - _BOTTOM, _TOP
    return lambda value: bottom - value * (bottom - upper) / top


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover


def _ticks(top: int) -> list[int]:
    """0 .. top in at most five integer steps."""
    for step in (1, 2, 5, 10, 20, 25, 50):
        scale = 10 ** max(0, math.floor(math.log10(top)) - 1)
        if top / (step * scale) <= 5:
            size = step * scale
            return list(range(0, top + 1, size))
    return [0, top]  # pragma: no cover


# --- text alternatives ------------------------------------------------------------------------------


def _line_summary(named: list[tuple[str, list[tuple[str, int]]]], unit: str) -> str:
    days = sorted({d for _, points in named for d, _ in points})
    if not days:
        return "No data."
    span = f"on {days[0][:10]}" if len(days) == 1 else f"from {days[0][:10]} to {days[-1][:10]}"
    sentences = [f"{len(named)} series {span}."]
    for name, points in named:
        if not points:
            sentences.append(f"{name}: no data.")
            continue
        values = [v for _, v in points]
        last_day, last = points[-1]
        sentences.append(
            f"{name}: {last} {unit} on {last_day[:10]} (lowest {min(values)}, highest {max(values)})."
        )
    return " ".join(sentences)


def _bar_summary(points: list[tuple[str, int]], unit: str) -> str:
    if not points:
        return "No data."
    total = sum(v for _, v in points)
    peak_day, peak = max(points, key=lambda p: (p[1], p[0]))
    first, last = points[0][0][:10], points[-1][0][:10]
    span = f"on {first}" if len(points) == 1 else f"from {first} to {last}"
    return (
        f"{total} {unit} on {len(points)} days {span}; busiest day {peak_day[:10]} with {peak}; "
        f"latest {points[-1][0][:10]} with {points[-1][1]}."
    )


def _chart_id(kind: str, title: str, data: str) -> str:
    """A stable id (the same data gives the same page, for incremental builds)."""
    return f"chart-{kind}-" + hashlib.sha256(f"{title}\0{data}".encode("utf-8", "replace")).hexdigest()[:12]
