"""Inline SVG geometry for report.html: the gap per slice with its interval, and cost vs quality
with the Pareto front. Only numbers are computed here; every label is placed in the template,
which escapes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.analysis.summary import GapSummary
from evalkit.report.verdict import ModelRow

__all__ = ["scatter_chart", "slice_chart"]

ROW_H = 22


def slice_chart(gaps: Sequence[GapSummary], threshold: float | None) -> dict[str, Any] | None:
    """One row per slice x open model (gate scorer): the gap, its interval, zero and max_gap."""
    rows_in = [g for g in gaps if g.gap is not None]
    if not rows_in:
        return None
    label_w, width, pad = 260.0, 720.0, 10.0
    bounds = [abs(v) for g in rows_in for v in (g.gap, g.ci_low, g.ci_high) if v is not None]
    scale = min(1.0, max([0.05, *bounds, abs(threshold or 0.0)]) * 1.1)

    def x(v: float) -> float:
        v = max(-scale, min(scale, v))
        return round(label_w + pad + (v + scale) / (2 * scale) * (width - label_w - 2 * pad), 2)

    rows = []
    for i, g in enumerate(rows_in):
        assert g.gap is not None
        lo = g.ci_low if g.ci_low is not None else g.gap
        hi = g.ci_high if g.ci_high is not None else g.gap
        rows.append(
            {
                "y": 20 + i * ROW_H + ROW_H / 2,
                "label": f"{g.slice} · {g.open_model}",
                "x_low": x(lo),
                "x_high": x(hi),
                "x_gap": x(g.gap),
                "text": f"{g.gap:+.3f} [{lo:.3f}, {hi:.3f}]" + ("" if g.reliable else " †"),
                "reliable": g.reliable,
            }
        )
    height = 20 + len(rows) * ROW_H + 24
    return {
        "width": width,
        "height": height,
        "label_w": label_w,
        "x_zero": x(0.0),
        "x_threshold": x(threshold) if threshold is not None else None,
        "ticks": [{"x": x(v), "text": f"{v:+.2f}"} for v in (-scale, -scale / 2, 0.0, scale / 2, scale)],
        "axis_y": height - 18,
        "rows": rows,
    }


def scatter_chart(models: Sequence[ModelRow]) -> dict[str, Any] | None:
    """Cost per 1,000 examples (x) against the gate score (y); the front joins the undominated models."""
    pts = [m for m in models if m.cost_per_1k is not None and m.score is not None]
    if not pts:
        return None
    width, height, left, right, top, bottom = 560.0, 320.0, 60.0, 140.0, 16.0, 44.0
    max_c = max(m.cost_per_1k or 0.0 for m in pts) or 1.0
    min_q = min(0.0, *(m.score or 0.0 for m in pts))
    max_q = max(1.0, *(m.score or 0.0 for m in pts))

    def x(c: float) -> float:
        return round(left + c / (max_c * 1.1) * (width - left - right), 2)

    def y(q: float) -> float:
        return round(top + (max_q - q) / ((max_q - min_q) or 1.0) * (height - top - bottom), 2)

    points = [
        {
            "x": x(m.cost_per_1k or 0.0),
            "y": y(m.score or 0.0),
            "name": m.name,
            "group": m.group or "?",
            "pareto": m.pareto,
            "text": f"{m.name}: {m.score:.3f} at ${m.cost_per_1k:.4f} per 1,000",
        }
        for m in pts
    ]
    front = sorted((p for p in points if p["pareto"]), key=lambda p: (p["x"], p["y"]))
    return {
        "width": width,
        "height": height,
        "left": left,
        "plot_right": width - right,
        "top": top,
        "bottom_y": height - bottom,
        "points": points,
        "front": " ".join(f"{p['x']},{p['y']}" for p in front),
        "x_ticks": [{"x": x(v), "text": f"${v:.4g}"} for v in (0.0, max_c / 2, max_c)],
        "y_ticks": [{"y": y(v), "text": f"{v:.2f}"} for v in (min_q, (min_q + max_q) / 2, max_q)],
        "unknown": [m.name for m in models if m.cost_per_1k is None],
    }
