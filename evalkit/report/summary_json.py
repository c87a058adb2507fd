"""``summary.json``: the run's decision and numbers for scripts (schema: docs/summary.schema.json).

Suite and run, each model (every scorer's mean and interval, n, errors, tokens, cost or null,
cost per 1,000 examples, latency p50/p95/p99 and time to first token), the best closed model minus each open model (interval,
p, p_holm, what the max_gap rule says), the gate (rules, overall, exit code), the verdict
sentence (and its money lines), the scorer metrics, the ``economics`` object and the
``partial_migration`` object (each open model's partial migration and the routing rule a routing
layer loads: :mod:`evalkit.report.partial_view`). Unknown numbers are ``null``, never 0 or NaN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit._util.io import atomic_write_text
from evalkit.analysis.outcome import GateOutcome, gate_exit_code, verdict_text
from evalkit.analysis.partial import PartialAnalysis
from evalkit.analysis.summary import GapSummary, ModelSummary, RunSummary
from evalkit.economics import Economics
from evalkit.report.economics_view import economics_dict, money_lines
from evalkit.report.partial_view import partial_dict
from evalkit.report.verdict import cost_per_1k, finite, gap_verdict, task_verdict
from evalkit.rundir.manifest import Manifest

__all__ = ["FORMAT", "summary_dict", "write_summary_json"]

FORMAT = 1


def _clean(v: Any) -> Any:
    """Non-finite floats -> None, recursively (JSON has no NaN)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, Mapping):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _model(m: ModelSummary, epochs: int, gate_scorer: str | None) -> dict[str, Any]:
    u = m.usage
    gst = m.scores.get(gate_scorer) if gate_scorer else None
    return {
        "name": m.name,
        "group": m.group,
        "model": m.info.model,
        "status": m.info.status,
        "status_reason": m.info.status_reason,
        "n": gst.n if gst else u.cells,
        "requests": u.cells,
        "scores": {
            k: {
                "mean": finite(st.mean),
                "ci_low": finite(st.ci_low),
                "ci_high": finite(st.ci_high),
                "ci_method": st.ci_method,
                "n": st.n,
                "n_examples": st.n_examples,
                "flip_rate": finite(st.flip_rate),
            }
            for k, st in m.scores.items()
        },
        "errors": u.errors,
        "error_rate": finite(u.error_rate),
        "error_kinds": dict(u.error_kinds),
        "tokens": {
            "input": u.input_tokens if u.input_tokens_known_rows else None,
            "output": u.output_tokens if u.output_tokens_known_rows else None,
            "input_unknown_rows": u.input_tokens_unknown,
            "output_unknown_rows": u.output_tokens_unknown,
        },
        "cost_usd": finite(u.cost_usd) if u.cost_rows and u.cost_known else None,
        "cost_known_rows": u.cost_known_rows,
        "cost_unknown_rows": u.cost_unknown_rows,
        "cost_per_1k_examples_usd": finite(cost_per_1k(m, epochs)),
        "latency_p50_s": finite(u.latency_p50_s),
        "latency_p95_s": finite(u.latency_p95_s),
        "latency_p99_s": finite(u.latency_p99_s),
        "ttft_p50_s": finite(u.ttft_p50_s),
        "ttft_p95_s": finite(u.ttft_p95_s),
        "ttft_p99_s": finite(u.ttft_p99_s),
        "cached": u.cached,
    }


def _gap(g: GapSummary, max_gap: float | None) -> dict[str, Any]:
    return {
        "scorer": g.scorer,
        "slice": g.slice,
        "closed_model": g.closed_model,
        "open_model": g.open_model,
        "n_pairs": g.n_pairs,
        "n_examples": g.n_examples,
        "closed_mean": finite(g.closed_mean),
        "open_mean": finite(g.open_mean),
        "gap": finite(g.gap),
        "ci_low": finite(g.ci_low),
        "ci_high": finite(g.ci_high),
        "p_value": finite(g.p_value),
        "p_holm": finite(g.p_holm),
        "holm_family": g.holm_family,
        "p_method": g.p_method,
        "reliable": g.reliable,
        "verdict": gap_verdict(g, max_gap),
    }


def _gate(gate: GateOutcome | None) -> dict[str, Any] | None:
    if gate is None:
        return None
    return {
        "scorer": gate.scorer,
        "overall": gate.overall.value,
        "verdict": verdict_text(gate),
        "chosen": gate.chosen,
        "exit_code": int(gate_exit_code(gate)),
        "inconclusive_policy": gate.inconclusive,
        "candidates": {name: o.value for name, o in gate.candidates},
        "advice": gate.advice,
        "partial": gate.partial,
        "routing_rule": gate.routing_rule,
        "notes": list(gate.notes),
        "rules": [
            {
                "name": r.name,
                "status": r.status.value,
                "observed": finite(r.observed),
                "threshold": finite(r.threshold),
                "reason": r.reason,
                "candidate": r.candidate,
                "needed": r.needed,
            }
            for r in gate.rules
        ],
    }


def summary_dict(
    summary: RunSummary,
    manifest: Manifest,
    gate: GateOutcome | None,
    max_gap: float | None,
    economics: Economics | None = None,
    partial: PartialAnalysis | None = None,
) -> dict[str, Any]:
    """The summary.json document (``economics``: :func:`evalkit.report.economics_view.run_economics`;
    ``partial``: :func:`evalkit.analysis.partial.analyse_partial`)."""
    tv = task_verdict(summary, gate, max_gap)
    return _clean(
        {
            "format": FORMAT,
            "suite": {
                "name": summary.suite,
                "version": summary.suite_version,
                "task_hash": manifest.suite.task_hash,
                "dataset_sha256": manifest.dataset.sha256,
            },
            "run": {
                "id": summary.run_id,
                "status": summary.status,
                "started_at": manifest.started_at,
                "finished_at": manifest.finished_at,
                "epochs": summary.epochs,
                "error_policy": summary.error_policy,
                "confidence": summary.confidence,
                "n_resamples": summary.n_resamples,
                "seed": summary.seed,
                "limit": manifest.limit,
            },
            "verdict": {
                "task": tv.task,
                "verdict": tv.verdict,
                "sentence": tv.sentence,
                "exit_code": tv.exit_code,
                "money": money_lines(summary, economics) if economics is not None else [],
            },
            "gate_scorer": summary.gate_scorer,
            "best_closed": summary.best_closed,
            "gap_note": summary.gap_note,
            "max_gap": max_gap,
            "models": [_model(m, summary.epochs, summary.gate_scorer) for m in summary.models],
            "gaps": [_gap(g, max_gap) for g in summary.gaps],
            "gate": _gate(gate),
            "scorer_metrics": summary.scorer_metrics,
            "economics": economics_dict(economics),
            "partial_migration": partial_dict(partial),
            "warnings": list(summary.warnings),
        }
    )


def write_summary_json(
    summary: RunSummary,
    manifest: Manifest,
    gate: GateOutcome | None,
    path: str | Path,
    max_gap: float | None = None,
    economics: Economics | None = None,
    partial: PartialAnalysis | None = None,
) -> Path:
    path = Path(path)
    doc = summary_dict(summary, manifest, gate, max_gap, economics, partial)
    atomic_write_text(
        path, json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n", errors="replace"
    )
    return path
