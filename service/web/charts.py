"""Line and bar charts drawn on the server as inline SVG, readable without colour.

Each series has its own dash pattern and marker shape and is labelled at its last point
and in a legend; every chart carries a <title> and a <desc> with the figures, so a screen
reader gets the numbers too. All text is escaped (markupsafe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 110, 16, 36
#: Dash pattern and marker per series, in order (solid/circle, dashed/square, dotted/triangle).
STYLES = (("", "circle"), ("7 4", "square"), ("2 3", "triangle"), ("10 3 2 3", "diamond"))


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float | None]]  # (x, y); y None = undefined there


def _marker(kind: str, x: float, y: float) -> str:
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="white" stroke="black"/>'
    if kind == "square":
        return f'<rect x="{x - 3:.1f}" y="{y - 3:.1f}" width="6" height="6" fill="black"/>'
    if kind == "triangle":
        return (
            f'<path d="M{x:.1f} {y - 4:.1f} L{x + 4:.1f} {y + 3:.1f} L{x - 4:.1f} {y + 3:.1f} Z"'
            ' fill="black"/>'
        )
    return (
        f'<path d="M{x:.1f} {y - 4:.1f} L{x + 4:.1f} {y:.1f} L{x:.1f} {y + 4:.1f}'
        f' L{x - 4:.1f} {y:.1f} Z" fill="white" stroke="black"/>'
    )


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    x_range: tuple[float, float] = (0.0, 1.0),
    y_max: float = 1.0,
    markers: Sequence[tuple[float, str]] = (),
    percent: bool = True,
) -> Markup:
    """Return an SVG line chart; `markers` are labelled vertical lines (e.g. thresholds)."""
    x0, x1 = x_range
    span = (x1 - x0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    y_top = y_max or 1.0

    def px(x: float) -> float:
        return LEFT + (x - x0) / span * plot_w

    def py(y: float) -> float:
        return TOP + plot_h - y / y_top * plot_h

    def fmt(y: float) -> str:
        return f"{y * 100:.0f} %" if percent else f"{y:g}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' class="chart" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
    ]
    desc = []
    for s in series:
        figures = ", ".join(f"{x:g}: {'–' if y is None else fmt(y)}" for x, y in s.points)
        desc.append(f"{s.label}: {figures}")
    parts.append(f"<desc>{escape('; '.join(desc))}</desc>")
    # Axes and grid.
    for i in range(5):
        y = y_top * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}"'
            ' stroke="#ccc" stroke-width="0.5"/>'
            f'<text x="{LEFT - 4}" y="{py(y) + 4:.1f}" text-anchor="end" font-size="10">'
            f"{escape(fmt(y))}</text>"
        )
    for i in range(6):
        x = x0 + span * i / 5
        parts.append(
            f'<text x="{px(x):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle"'
            f' font-size="10">{x:g}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle"'
        f' font-size="11">{escape(x_label)}</text>'
    )
    for x, label in markers:
        parts.append(
            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{TOP}" y2="{TOP + plot_h}"'
            ' stroke="black" stroke-width="1" stroke-dasharray="1 2"/>'
            f'<text x="{px(x) + 3:.1f}" y="{TOP + 10}" font-size="10">{escape(label)}</text>'
        )
    for index, s in enumerate(series):
        dash, marker = STYLES[index % len(STYLES)]
        defined = [(x, y) for x, y in s.points if y is not None]
        if not defined:
            continue
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{px(x):.1f} {py(y):.1f}" for i, (x, y) in enumerate(defined)
        )
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<path d="{path}" fill="none" stroke="black" stroke-width="1.6"{dash_attr}/>')
        parts.extend(_marker(marker, px(x), py(y)) for x, y in defined)
        last_x, last_y = defined[-1]
        parts.append(
            f'<text x="{px(last_x) + 6:.1f}" y="{py(last_y) + 4 + index * 11:.1f}"'
            f' font-size="11">{escape(s.label)}</text>'
        )
        # Legend: a short line in the series' style, its marker and its name.
        ly = TOP + 20 + index * 16
        lx = WIDTH - RIGHT + 12
        parts.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="{ly}" y2="{ly}" stroke="black"'
            f' stroke-width="1.6"{dash_attr}/>'
        )
        parts.append(_marker(marker, lx + 11, ly))
        parts.append(f'<text x="{lx + 26}" y="{ly + 4}" font-size="10">{escape(s.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text escaped above)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """Return an SVG bar chart of labelled values (each bar labelled with its value)."""
    height = TOP + BOTTOM + 22 * max(1, len(bars))
    top = max((v for _, v in bars), default=0.0) or 1.0
    plot_w = WIDTH - 170
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img"'
        f' class="chart" width="{WIDTH}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape('; '.join(f'{k}: {v:g}{unit}' for k, v in bars))}</desc>",
    ]
    for i, (label, value) in enumerate(bars):
        y = TOP + i * 22
        w = value / top * plot_w
        parts.append(
            f'<text x="110" y="{y + 13}" text-anchor="end" font-size="11">{escape(label)}</text>'
            f'<rect x="116" y="{y + 2}" width="{w:.1f}" height="14" fill="white" stroke="black"'
            ' stroke-width="1"/>'
            f'<text x="{116 + w + 4:.1f}" y="{y + 13}" font-size="11">{value:g}{escape(unit)}'
            "</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text escaped above)
