"""Reports, regenerated from the run folder alone (no network, no keys, no suite file).

:func:`write_report` reads ``run.json`` and ``samples.jsonl`` and writes, next to them,
``summary.csv``, ``gaps.csv`` (columns: :mod:`evalkit.report.csv`), ``gaps.json`` (the full
closed x open matrix: :mod:`evalkit.report.gaps_json`), ``scorer_metrics.json``
(:mod:`evalkit.report.metrics_json`) and ``report.html`` (:mod:`evalkit.report.html`). One
writer per format; each reads the same :class:`~evalkit.summary.RunSummary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evalkit.aggregate import build_aggregator
from evalkit.errors import RunDirError
from evalkit.gate import GateOutcome, evaluate_gate, gate_config_from_manifest
from evalkit.report.csv import write_gaps_csv, write_summary_csv
from evalkit.report.examples import DEFAULT_LIMIT, Example, collect_examples, pick_cells
from evalkit.report.gaps_json import write_gaps_json
from evalkit.report.html import render_html, write_html
from evalkit.report.metrics_json import write_scorer_metrics
from evalkit.summary import RunSummary

__all__ = ["ReportData", "load_report_data", "write_report"]

SUMMARY_CSV = "summary.csv"
GAPS_CSV = "gaps.csv"
GAPS_JSON = "gaps.json"
SCORER_METRICS_JSON = "scorer_metrics.json"
REPORT_HTML = "report.html"


@dataclass(frozen=True)
class ReportData:
    """Everything a report writer reads."""

    manifest: dict
    summary: RunSummary
    gate: GateOutcome | None
    max_gap: float | None
    examples: list[Example]


def load_report_data(run_dir: str | Path, *, example_limit: int = DEFAULT_LIMIT) -> ReportData:
    """Aggregate the run folder, evaluate its gate and pick the examples."""
    agg, ledger_warnings = build_aggregator(run_dir)
    summary = agg.finish(ledger_warnings)
    gate: GateOutcome | None = None
    max_gap: float | None = None
    try:
        cfg = gate_config_from_manifest(agg.manifest)
        gate = evaluate_gate(summary, cfg)
        max_gap = cfg.max_gap
    except RunDirError as exc:
        summary.warnings.append(f"gate not evaluated: {exc}")
    examples: list[Example] = []
    if summary.gate_scorer is not None and example_limit > 0:
        picked = pick_cells(agg.cell_values(summary.gate_scorer), example_limit)
        examples = collect_examples(run_dir, picked, summary.scorers)
    return ReportData(dict(agg.manifest), summary, gate, max_gap, examples)


def write_report(run_dir: str | Path, *, example_limit: int = DEFAULT_LIMIT) -> list[Path]:
    """Write summary.csv, gaps.csv, gaps.json, scorer_metrics.json and report.html into ``run_dir``; return their paths."""
    run_dir = Path(run_dir)
    data = load_report_data(run_dir, example_limit=example_limit)
    html = render_html(
        data.summary,
        data.manifest,
        data.examples,
        data.gate,
        max_gap=data.max_gap,
        example_limit=example_limit,
    )
    return [
        write_summary_csv(data.summary, run_dir / SUMMARY_CSV),
        write_gaps_csv(data.summary, run_dir / GAPS_CSV, data.max_gap),
        write_gaps_json(data.summary, data.manifest, run_dir / GAPS_JSON, data.max_gap),
        write_scorer_metrics(data.summary, data.manifest, run_dir / SCORER_METRICS_JSON),
        write_html(html, run_dir / REPORT_HTML),
    ]
