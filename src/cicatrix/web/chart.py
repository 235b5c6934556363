"""Score-over-time charts drawn as plain SVG on the server: no chart library, prints as vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: date
    value: int


@dataclass(frozen=True)
class Series:
    """One scale's line, already placed in the chart's coordinate box."""

    label: str
    colour: str
    points: tuple[Point, ...]
    maximum: int
    ticks: tuple[tuple[float, int], ...]  # (y, value) for the axis labels

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f} {p.y:.1f}" for i, p in enumerate(self.points))


WIDTH, HEIGHT = 320, 160
LEFT, RIGHT, TOP, BOTTOM = 40, 12, 12, 28


def _nice_max(values: Sequence[int], scale_max: int) -> int:
    """Top of the axis: a little above the highest value, never above the scale's maximum."""
    top = max([*values, 1])
    for step in (5, 10, 20, 50, 100):
        if top <= step * 5:
            return min(scale_max, ((top + step - 1) // step) * step or step)
    return scale_max


def series(label: str, colour: str, points: Sequence[tuple[date, int]], scale_max: int) -> Series:
    """Place (date, value) points on a WIDTH x HEIGHT box with a shared time axis."""
    pts = sorted(points)
    top = _nice_max([v for _, v in pts], scale_max)
    x0, x1 = LEFT, WIDTH - RIGHT
    y0, y1 = HEIGHT - BOTTOM, TOP
    if pts:
        d0, d1 = pts[0][0].toordinal(), pts[-1][0].toordinal()
    else:
        d0 = d1 = 0
    span = max(d1 - d0, 1)

    def px(d: date) -> float:
        if d1 == d0:
            return (x0 + x1) / 2
        return x0 + (d.toordinal() - d0) / span * (x1 - x0)

    def py(v: int) -> float:
        return y0 - (v / top) * (y0 - y1)

    placed = tuple(Point(px(d), py(v), d, v) for d, v in pts)
    ticks = tuple((py(v), v) for v in (0, top // 2, top))
    return Series(label, colour, placed, top, ticks)
