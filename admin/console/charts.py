"""SVG charts drawn on the server (pure): geometry for stacked bars and lines, which templates turn into SVG.

No script draws anything in the browser; each chart is a handful of rectangles or polylines with
their axis ticks and labels, in a fixed view box that scales with the page.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

WIDTH, HEIGHT = 640.0, 180.0
LEFT, RIGHT, TOP, BOTTOM = 44.0, 8.0, 8.0, 22.0


def nice_max(value: float) -> float:
    """A round upper bound for an axis (1, 2, 5 times a power of ten) at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _frame(ymax: float, n: int, label: Callable[[int], str], every: int, unit: str) -> dict[str, Any]:
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(n, 1)
    ticks = [{"y": round(TOP + plot_h * (1 - f), 1), "text": f"{ymax * f:g}{unit}"} for f in (0.0, 0.5, 1.0)]
    labels = [{"x": round(LEFT + step * (i + 0.5), 1), "text": label(i)} for i in range(0, n, max(every, 1))]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "base": HEIGHT - BOTTOM, "ticks": ticks, "labels": labels, "step": step, "plot_h": plot_h}


def stacked_bars(rows: Sequence[dict[str, float]], keys: Sequence[str], *, label: Callable[[int], str],
                 every: int = 4, unit: str = "") -> dict[str, Any]:
    """Bars, one per row, each stacked by ``keys`` (a rectangle per key with a value)."""
    ymax = nice_max(max((sum(r.get(k, 0) for k in keys) for r in rows), default=0))
    chart = _frame(ymax, len(rows), label, every, unit)
    bars = []
    for i, row in enumerate(rows):
        y = chart["base"]
        for key in keys:
            h = chart["plot_h"] * row.get(key, 0) / ymax
            if h > 0:
                y -= h
                bars.append({"x": round(LEFT + chart["step"] * i + chart["step"] * 0.15, 1), "y": round(y, 1),
                             "w": round(chart["step"] * 0.7, 1), "h": round(h, 1), "key": key,
                             "value": row.get(key, 0)})
    return {**chart, "bars": bars, "names": list(keys)}


def lines(rows: Sequence[dict[str, float | None]], keys: Sequence[str], *, label: Callable[[int], str],
          every: int = 4, unit: str = "") -> dict[str, Any]:
    """One polyline per key across the rows (a row without a value breaks the line)."""
    ymax = nice_max(max((float(r[k]) for r in rows for k in keys if r.get(k) is not None), default=0))
    chart = _frame(ymax, len(rows), label, every, unit)
    series = []
    for key in keys:
        runs: list[list[str]] = [[]]
        dots = []
        for i, row in enumerate(rows):
            value = row.get(key)
            if value is None:
                runs.append([])
                continue
            x = LEFT + chart["step"] * (i + 0.5)
            y = chart["base"] - chart["plot_h"] * float(value) / ymax
            runs[-1].append(f"{x:.1f},{y:.1f}")
            dots.append({"x": round(x, 1), "y": round(y, 1), "value": value})
        series.append({"key": key, "runs": [" ".join(r) for r in runs if r], "dots": dots})
    return {**chart, "series": series, "names": list(keys)}


__all__ = ["stacked_bars", "lines", "nice_max"]
