"""The per-task verdict in one sentence, and the per-model figures every report format shares.

A run is one task (its suite): :func:`task_verdict` turns its gate outcome into ``migrate`` /
``stay`` / ``inconclusive`` / ``cannot decide`` and one sentence naming the gap and its interval.
:func:`model_rows` gives each model's gate-scorer score, cost per 1,000 examples and latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from evalkit.analysis.gate import classify_gap
from evalkit.analysis.outcome import GateOutcome, Overall, RuleStatus, gate_exit_code
from evalkit.analysis.summary import ALL, GapSummary, ModelSummary, RunSummary

__all__ = [
    "ModelRow",
    "TaskVerdict",
    "cost_per_1k",
    "finite",
    "gap_verdict",
    "model_rows",
    "pareto_front",
    "task_verdict",
]

_WORD = {
    Overall.MIGRATE: "migrate",
    Overall.STAY: "stay",
    Overall.INCONCLUSIVE: "inconclusive",
    Overall.INFRASTRUCTURE: "cannot decide",
    Overall.PARTIAL: "migrate partially",
}


def finite(x: float | None) -> float | None:
    """``x``, or ``None`` for a missing or non-finite number (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else float(x)


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _gap_phrase(g: GapSummary) -> str:
    if g.gap is None:
        return f"{g.closed_model} − {g.open_model}: no shared example"
    rel = "" if g.reliable else ", unreliable: fewer than 30 examples"
    return (
        f"gap {g.closed_model} − {g.open_model} {g.gap:+.3f} "
        f"(interval [{_f(g.ci_low)}, {_f(g.ci_high)}], {g.n_examples} examples{rel})"
    )


@dataclass(frozen=True, slots=True)
class TaskVerdict:
    task: str
    verdict: str
    """``migrate``, ``stay``, ``inconclusive``, ``cannot decide``, ``migrate partially`` or ``no gate``."""
    sentence: str
    gap: GapSummary | None
    """The gap the sentence names (gate scorer, slice all): the chosen model when migrating, the one
    the gate's advice names when inconclusive (:func:`evalkit.analysis.gate.closest_candidate`), else the open
    model with the lowest gap upper bound."""
    exit_code: int | None


def _closest(summary: RunSummary, scorer: str | None, chosen: str | None) -> GapSummary | None:
    if scorer is None:
        return None
    rows = [g for g in summary.gaps_for(scorer, ALL) if g.gap is not None]
    if chosen is not None:
        hit = next((g for g in rows if g.open_model == chosen), None)
        if hit is not None:
            return hit
    return min(rows, key=lambda g: g.ci_high if g.ci_high is not None else math.inf, default=None)


def task_verdict(summary: RunSummary, gate: GateOutcome | None, max_gap: float | None) -> TaskVerdict:
    """One sentence: the decision, the gap and its interval, against ``max_gap``."""
    task = summary.suite
    scorer = gate.scorer if gate is not None else summary.gate_scorer
    g = _closest(summary, scorer, (gate.chosen or gate.closest) if gate else None)
    margin = f" against max_gap {max_gap:.3f}" if max_gap is not None else ""
    gap_text = f"; {_gap_phrase(g)}{margin}" if g is not None else ""
    if gate is None:
        return TaskVerdict(task, "no gate", f"{task}: no gate was evaluated{gap_text}.", g, None)
    word = _WORD[gate.overall]
    code = int(gate_exit_code(gate))
    if gate.overall is Overall.MIGRATE:
        who = f" to {gate.chosen}" if gate.chosen else ""
        text = f"{task}: migrate{who} — every gate rule about it passed{gap_text}."
    elif gate.overall is Overall.STAY:
        failed = [r.name for r in gate.rules if r.status is RuleStatus.FAIL]
        text = f"{task}: stay on the closed model — failed: {', '.join(failed) or 'a gate rule'}{gap_text}."
    elif gate.overall is Overall.INCONCLUSIVE:
        advice = f" ({gate.advice})" if gate.advice else ""
        text = f"{task}: inconclusive — the data cannot tell{gap_text}{advice}."
    elif gate.overall is Overall.PARTIAL:
        text = f"{task}: migrate partially to {gate.chosen} — {gate.partial}{gap_text}."
    else:
        bad = [r.name for r in gate.rules if r.status in (RuleStatus.INFRASTRUCTURE, RuleStatus.INSUFFICIENT)]
        text = f"{task}: cannot decide — infrastructure failure or insufficient data ({', '.join(bad)}){gap_text}."
    return TaskVerdict(task, word, text, g, code)


def gap_verdict(g: GapSummary, max_gap: float | None) -> str | None:
    """What the ``max_gap`` rule alone says of one gap: migrate / stay / inconclusive (None without a margin or data)."""
    if max_gap is None or g.ci_low is None or g.ci_high is None:
        return None
    status = classify_gap(g.ci_low, g.ci_high, max_gap, g.n_examples)
    return {RuleStatus.PASS: "migrate", RuleStatus.FAIL: "stay"}.get(status, "inconclusive")


def cost_per_1k(m: ModelSummary, epochs: int) -> float | None:
    """USD per 1,000 examples (each asked ``epochs`` times); None when any priced row is unknown."""
    u = m.usage
    if u.cells == 0 or u.cost_rows == 0 or not u.cost_known:
        return None
    examples = u.cells / max(1, epochs)
    return u.cost_usd / examples * 1000.0


@dataclass(frozen=True, slots=True)
class ModelRow:
    name: str
    group: str | None
    score: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    cost_per_1k: float | None
    pareto: bool


def pareto_front(points: list[tuple[str, float, float]]) -> set[str]:
    """Names on the cost-vs-quality front: no other point is at most as costly and at least as good, and better in one."""
    front = set()
    for name, c, q in points:
        dominated = any((c2 <= c and q2 >= q) and (c2 < c or q2 > q) for n2, c2, q2 in points if n2 != name)
        if not dominated:
            front.add(name)
    return front


def model_rows(summary: RunSummary) -> list[ModelRow]:
    """Each model with results: the gate scorer's mean and interval, cost per 1,000 examples, on the Pareto front or not."""
    gs = summary.gate_scorer
    raw: list[dict[str, Any]] = []
    for m in summary.models:
        if m.usage.cells == 0:
            continue
        st = m.scores.get(gs) if gs else None
        raw.append(
            {
                "name": m.name,
                "group": m.group,
                "score": finite(st.mean) if st else None,
                "ci_low": finite(st.ci_low) if st else None,
                "ci_high": finite(st.ci_high) if st else None,
                "n": st.n if st else m.usage.cells,
                "cost_per_1k": cost_per_1k(m, summary.epochs),
            }
        )
    pts = [
        (r["name"], r["cost_per_1k"], r["score"])
        for r in raw
        if r["cost_per_1k"] is not None and r["score"] is not None
    ]
    front = pareto_front(pts)
    return [ModelRow(**r, pareto=r["name"] in front) for r in raw]
