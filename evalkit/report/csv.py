"""``summary.csv`` and ``gaps.csv``: the run's numbers for spreadsheets and scripts.

``summary.csv`` — one row per model x scorer x slice (slice ``all`` first, then ``name=value``):

==================  =========================================================================
suite               suite name
model               model display name
group               ``closed`` / ``open`` (empty for a model not in run.json)
scorer              scorer key
slice               ``all`` or ``tag=value``
n                   cells in the mean (errored cells included under ``count_as_wrong``)
mean                mean score (empty when n = 0)
ci_low, ci_high     95% interval: Wilson for 0/1 scores, percentile bootstrap otherwise
errors              failed requests
error_rate          errors / requests (empty when there were no requests)
input_tokens        sum of the known input token counts (empty when none is known)
output_tokens       sum of the known output token counts (empty when none is known)
cost_usd            total cost; **empty when any priced row's cost is unknown** (never 0)
cost_known_rows     rows whose cost is known (compare with n)
latency_p50_s       median latency of answered requests, seconds
latency_p95_s       95th percentile latency, seconds
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
closed_mean, open_mean  means over those pairs
gap                     closed_mean - open_mean: positive means the open model scores lower
ci_low, ci_high         95% paired bootstrap interval of the gap
p_value                 McNemar exact test (0/1 scores only; empty otherwise)
method                  how the interval/test were made, with the resample count and seed
discordant_closed_only  0/1 scores: pairs only the closed model passed
discordant_open_only    0/1 scores: pairs only the open model passed
======================  =====================================================================

String cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with ``'``; numbers are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.scorers.metrics import response_format_of
from evalkit.summary import ModelSummary, RunSummary

__all__ = [
    "GAPS_COLUMNS",
    "SUMMARY_COLUMNS",
    "gaps_frame",
    "neutralise",
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
    "mean",
    "ci_low",
    "ci_high",
    "errors",
    "error_rate",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cost_known_rows",
    "latency_p50_s",
    "latency_p95_s",
    "status",
    "response_format",
]
GAPS_COLUMNS = [
    "scorer",
    "slice",
    "closed_model",
    "open_model",
    "n_pairs",
    "closed_mean",
    "open_mean",
    "gap",
    "ci_low",
    "ci_high",
    "p_value",
    "method",
    "discordant_closed_only",
    "discordant_open_only",
]
_INT = {
    "n",
    "errors",
    "input_tokens",
    "output_tokens",
    "cost_known_rows",
    "n_pairs",
    "discordant_closed_only",
    "discordant_open_only",
}
_FLOAT = {
    "mean",
    "ci_low",
    "ci_high",
    "error_rate",
    "cost_usd",
    "latency_p50_s",
    "latency_p95_s",
    "closed_mean",
    "open_mean",
    "gap",
    "p_value",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Prefix ``'`` to a string a spreadsheet would run as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
                "mean": _round(s.mean),
                "ci_low": _round(s.ci_low),
                "ci_high": _round(s.ci_high),
                "errors": u.errors,
                "error_rate": _round(u.error_rate),
                "input_tokens": u.input_tokens if u.input_tokens_known_rows else None,
                "output_tokens": u.output_tokens if u.output_tokens_known_rows else None,
                "cost_usd": round(u.cost_usd, 10) if u.cost_known and u.cost_rows > 0 else None,
                "cost_known_rows": u.cost_known_rows,
                "latency_p50_s": _round(u.latency_p50_s, 4),
                "latency_p95_s": _round(u.latency_p95_s, 4),
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


def gaps_frame(summary: RunSummary) -> pd.DataFrame:
    rows = [
        {
            "scorer": g.scorer,
            "slice": g.slice,
            "closed_model": g.closed_model,
            "open_model": g.open_model,
            "n_pairs": g.n_pairs,
            "closed_mean": _round(g.closed_mean),
            "open_mean": _round(g.open_mean),
            "gap": _round(g.gap),
            "ci_low": _round(g.ci_low),
            "ci_high": _round(g.ci_high),
            "p_value": g.p_value,
            "method": g.method,
            "discordant_closed_only": g.discordant_closed_only,
            "discordant_open_only": g.discordant_open_only,
        }
        for g in summary.gaps
    ]
    return _frame(rows, GAPS_COLUMNS)


def _write(df: pd.DataFrame, path: Path) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)
    return path


def write_summary_csv(summary: RunSummary, path: str | Path) -> Path:
    return _write(summary_frame(summary), Path(path))


def write_gaps_csv(summary: RunSummary, path: str | Path) -> Path:
    return _write(gaps_frame(summary), Path(path))
