"""``summary.csv`` and ``gaps.csv``: the run's numbers for spreadsheets and scripts.

``summary.csv`` — one row per model x scorer x slice (slice ``all`` first, then ``name=value``):

==================  =========================================================================
suite               suite name
model               model display name
group               ``closed`` / ``open`` (empty for a model not in run.json)
scorer              scorer key
slice               ``all`` or ``tag=value``
n                   cells in the mean (errored cells included under ``count_as_wrong``)
n_examples          distinct examples among those cells (n / epochs)
mean                mean score (over examples, each example's epochs averaged; empty when n = 0)
ci_low, ci_high     interval at the run's confidence (95 % unless ``gate.confidence``)
ci_method           ``wilson`` (0/1 scores), ``bootstrap``, ``cluster bootstrap`` (epochs > 1,
                    resampling examples), ``all equal`` (exact worst case) or ``none``
errors              failed requests (shown whatever the error policy)
error_rate          errors / requests (empty when there were no requests)
flip_rate           epochs > 1: share of the examples answered twice or more whose verdict
                    differs across epochs (empty with one epoch)
flip_examples       examples answered twice or more
input_tokens        sum of the known input token counts (empty when none is known)
output_tokens       sum of the known output token counts (empty when none is known)
cost_usd            total cost; **empty when any priced row's cost is unknown** (never 0)
cost_known_rows     rows whose cost is known (compare with n)
latency_p50_s       median latency of answered requests, seconds
latency_p95_s       95th percentile latency, seconds
latency_p99_s       99th percentile latency, seconds
ttft_p50_s          median time to first token of the streamed answers (``stream: true``), seconds;
                    empty when none was streamed (also ttft_p95_s, ttft_p99_s)
status              ``ok``, or ``skipped: <reason>`` / ``stopped: <reason>``
response_format     structured output requested for the model: the ``response_format`` type
                    (``json_schema``, ``json_object``...; ``requested`` when it has none);
                    empty when not requested
==================  =========================================================================

``gaps.csv`` — one row per scorer x slice x open model, the best closed model minus it:

======================  =====================================================================
scorer, slice           as above
closed_model            the best closed model (highest mean on the gate scorer)
open_model              the open model compared
n_pairs                 cells (sample, epoch) both models have a value for
n_examples              examples among them: the unit the gap averages and resamples
closed_mean, open_mean  means over those pairs (per example, epochs averaged)
gap                     closed_mean - open_mean: positive means the open model scores lower
ci_low, ci_high         paired bootstrap interval of the gap (a cluster bootstrap over examples
                        with epochs; the exact worst case when every difference is equal)
half_width              (ci_high - ci_low) / 2
p_value                 unadjusted: McNemar exact (0/1, one epoch), clustered McNemar (0/1,
                        epochs), paired t-test (continuous)
p_holm                  p_value Holm-corrected over this scorer's rows (every open model x slice)
holm_family             how many p-values that correction covered
p_method                which test gave p_value
method                  how the interval/test were made, with the resample count and seed
discordant_closed_only  0/1 scores: pairs only the closed model passed
discordant_open_only    0/1 scores: pairs only the open model passed
closed_errors           failed requests of the closed model in the slice (policy: count as 0 or
open_errors             exclude; counted either way)
reliable                false below 30 examples: the interval is unreliable
n_needed                with ``gate.max_gap``: examples for the interval to just exclude it if
                        the gap and discordance stay as observed (docs/statistics.md)
n_needed_80             the same for an 80 % chance
======================  =====================================================================

String cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with ``'``; numbers are left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from evalkit._util.io import atomic_open
from evalkit._util.spreadsheet import neutralise
from evalkit.analysis.gaps import gap_plan
from evalkit.analysis.summary import GapSummary, ModelSummary, RunSummary
from evalkit.scorers.metrics import response_format_of

__all__ = [
    "GAPS_COLUMNS",
    "SUMMARY_COLUMNS",
    "gap_row",
    "gaps_frame",
    "summary_frame",
    "write_gaps_csv",
    "write_summary_csv",
]

SUMMARY_COLUMNS = [
    "suite",
    "model",
    "group",
    "scorer",
    "slice",
    "n",
    "n_examples",
    "mean",
    "ci_low",
    "ci_high",
    "ci_method",
    "errors",
    "error_rate",
    "flip_rate",
    "flip_examples",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cost_known_rows",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "ttft_p50_s",
    "ttft_p95_s",
    "ttft_p99_s",
    "status",
    "response_format",
]
GAPS_COLUMNS = [
    "scorer",
    "slice",
    "closed_model",
    "open_model",
    "n_pairs",
    "n_examples",
    "closed_mean",
    "open_mean",
    "gap",
    "ci_low",
    "ci_high",
    "half_width",
    "p_value",
    "p_holm",
    "holm_family",
    "p_method",
    "method",
    "discordant_closed_only",
    "discordant_open_only",
    "closed_errors",
    "open_errors",
    "reliable",
    "n_needed",
    "n_needed_80",
]
_INT = {
    "n",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_known_rows",
    "n_pairs",
    "n_examples",
    "flip_examples",
    "holm_family",
    "discordant_closed_only",
    "discordant_open_only",
    "closed_errors",
    "open_errors",
    "n_needed",
    "n_needed_80",
}
_FLOAT = {
    "mean",
    "ci_low",
    "ci_high",
    "error_rate",
    "cost_usd",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "ttft_p50_s",
    "ttft_p95_s",
    "ttft_p99_s",
    "closed_mean",
    "open_mean",
    "gap",
    "half_width",
    "flip_rate",
    "p_value",
    "p_holm",
}


def _round(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def _summary_rows(summary: RunSummary, m: ModelSummary) -> list[dict[str, Any]]:
    u = m.usage
    requested, rf_type = response_format_of(m.info.params)
    rf = (rf_type or "requested") if requested else ""
    rows = []
    for scorer, s in m.scores.items():
        rows.append(
            {
                "suite": summary.suite,
                "model": m.name,
                "group": m.group or "",
                "scorer": scorer,
                "slice": m.slice,
                "n": s.n,
                "n_examples": s.n_examples,
                "mean": _round(s.mean),
                "ci_low": _round(s.ci_low),
                "ci_high": _round(s.ci_high),
                "ci_method": s.ci_method,
                "errors": u.errors,
                "error_rate": _round(u.error_rate),
                "flip_rate": _round(s.flip_rate),
                "flip_examples": s.flip_examples,
                "input_tokens": u.input_tokens if u.input_tokens_known_rows else None,
                "output_tokens": u.output_tokens if u.output_tokens_known_rows else None,
                "cost_usd": round(u.cost_usd, 10) if u.cost_known and u.cost_rows > 0 else None,
                "cost_known_rows": u.cost_known_rows,
                "latency_p50_s": _round(u.latency_p50_s, 4),
                "latency_p95_s": _round(u.latency_p95_s, 4),
                "latency_p99_s": _round(u.latency_p99_s, 4),
                "ttft_p50_s": _round(u.ttft_p50_s, 4),
                "ttft_p95_s": _round(u.ttft_p95_s, 4),
                "ttft_p99_s": _round(u.ttft_p99_s, 4),
                "status": m.info.status_text,
                "response_format": rf,
            }
        )
    return rows


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for col in columns:
        if col in _INT:
            df[col] = pd.array([None if v is None or v != v else int(v) for v in df[col]], dtype="Int64")
        elif col in _FLOAT:
            df[col] = pd.array([None if v is None or v != v else float(v) for v in df[col]], dtype="Float64")
        else:
            df[col] = df[col].astype(object).map(neutralise)
    return df


def summary_frame(summary: RunSummary) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for m in [*summary.models, *summary.slices]:
        rows.extend(_summary_rows(summary, m))
    return _frame(rows, SUMMARY_COLUMNS)


def gap_row(g: GapSummary, margin: float | None, confidence: float) -> dict[str, Any]:
    """One gap as a flat dict (the gaps.csv columns; gaps.json adds a few)."""
    plan = gap_plan(g, margin, confidence)
    return {
        "scorer": g.scorer,
        "slice": g.slice,
        "closed_model": g.closed_model,
        "open_model": g.open_model,
        "n_pairs": g.n_pairs,
        "n_examples": g.n_examples,
        "closed_mean": _round(g.closed_mean),
        "open_mean": _round(g.open_mean),
        "gap": _round(g.gap),
        "ci_low": _round(g.ci_low),
        "ci_high": _round(g.ci_high),
        "half_width": _round(g.half_width),
        "p_value": g.p_value,
        "p_holm": g.p_holm,
        "holm_family": g.holm_family,
        "p_method": g.p_method,
        "method": g.method,
        "discordant_closed_only": g.discordant_closed_only,
        "discordant_open_only": g.discordant_open_only,
        "closed_errors": g.closed_errors,
        "open_errors": g.open_errors,
        "reliable": g.reliable,
        "n_needed": plan.needed if plan and not plan.decided else None,
        "n_needed_80": plan.needed_power if plan and not plan.decided else None,
    }


def gaps_frame(summary: RunSummary, margin: float | None = None) -> pd.DataFrame:
    rows = [gap_row(g, margin, summary.confidence) for g in summary.gaps]
    return _frame(rows, GAPS_COLUMNS)


def _write(df: pd.DataFrame, path: Path) -> Path:
    with atomic_open(path, newline="", errors="replace") as f:
        df.to_csv(f, index=False, lineterminator="\n")
    return path


def write_summary_csv(summary: RunSummary, path: str | Path) -> Path:
    return _write(summary_frame(summary), Path(path))


def write_gaps_csv(summary: RunSummary, path: str | Path, margin: float | None = None) -> Path:
    return _write(gaps_frame(summary, margin), Path(path))
