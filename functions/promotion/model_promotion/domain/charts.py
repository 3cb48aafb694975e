"""The geometry of the console's metric charts: one chart per stage a batch ran in, one line per metric, the
versions along the x axis, so a drift between versions shows at a glance. Pure: numbers in, SVG coordinates
out; the template draws them (and a table holds the same numbers for screen readers and for copying).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 120, 12, 28
# Colour-blind-safe (Okabe-Ito), one per metric in name order; the legend names each line in words too.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    version: int
    value: float
    highlighted: bool


@dataclass(frozen=True)
class Series:
    metric: str
    colour: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        return " ".join(f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points))


@dataclass(frozen=True)
class Chart:
    stage: str
    width: int
    height: int
    series: tuple[Series, ...]
    x_ticks: tuple[tuple[float, int], ...]
    y_ticks: tuple[tuple[float, str], ...]
    plot_right: float
    plot_bottom: float


def metric_charts(
    rows: Sequence[Mapping[str, Any]], stages: Sequence[str], *, highlight: int | None = None
) -> list[Chart]:
    """One chart per stage with batch metrics (`operations.batch_metrics` rows), in the stages' order."""
    charts = []
    for stage in stages:
        scored = sorted((r for r in rows if r.get("stage") == stage), key=lambda r: int(r["version"]))
        if scored:
            charts.append(_chart(stage, scored, highlight))
    return charts


def _chart(stage: str, rows: Sequence[Mapping[str, Any]], highlight: int | None) -> Chart:
    versions = [int(r["version"]) for r in rows]
    names = sorted({name for r in rows for name in r.get("metrics") or {}})
    values = [float(v) for r in rows for v in (r.get("metrics") or {}).values() if isinstance(v, int | float)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if low >= 0.0 and high <= 1.0:  # scores and rates: the whole 0-1 range, so small drifts look small
        low, high = 0.0, 1.0
    if high == low:
        low, high = low - 0.5, high + 0.5
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def x_of(version: int) -> float:
        if len(versions) == 1:
            return (LEFT + right) / 2
        return LEFT + (right - LEFT) * versions.index(version) / (len(versions) - 1)

    def y_of(value: float) -> float:
        return bottom - (bottom - TOP) * (value - low) / (high - low)

    series = []
    for index, name in enumerate(names):
        points = tuple(
            Point(
                x_of(int(r["version"])), y_of(float(value)), int(r["version"]), float(value), r["version"] == highlight
            )
            for r in rows
            if isinstance(value := (r.get("metrics") or {}).get(name), int | float)
        )
        series.append(Series(name, COLOURS[index % len(COLOURS)], points))
    y_ticks = tuple((y_of(low + (high - low) * i / 4), f"{low + (high - low) * i / 4:.2f}") for i in range(5))
    return Chart(
        stage=stage,
        width=WIDTH,
        height=HEIGHT,
        series=tuple(series),
        x_ticks=tuple((x_of(v), v) for v in versions),
        y_ticks=y_ticks,
        plot_right=right,
        plot_bottom=bottom,
    )
