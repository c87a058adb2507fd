"""Reports, regenerated from the run folder alone (no network, no keys, no suite file).

:func:`write_report` reads ``run.json`` and ``samples.jsonl`` and writes, next to them,
``summary.csv``, ``gaps.csv`` (columns: :mod:`evalkit.report.csv`), ``gaps.json`` (the full
closed x open matrix: :mod:`evalkit.report.gaps_json`), ``scorer_metrics.json``
(:mod:`evalkit.report.metrics_json`), ``report.html`` (:mod:`evalkit.report.html`),
``summary.json`` (:mod:`evalkit.report.summary_json`, schema docs/summary.schema.json),
``summary.md`` (:mod:`evalkit.report.markdown`, also appended to ``$GITHUB_STEP_SUMMARY`` when
set) and ``junit.xml`` (:mod:`evalkit.report.junit`); then the results folder's ``index.html``
(:mod:`evalkit.report.index`). One writer per format; each reads the same
:class:`~evalkit.analysis.summary.RunSummary`. Every file is described in docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evalkit._util.io import atomic_write_text
from evalkit.analysis.aggregate import build_aggregator
from evalkit.analysis.gate import evaluate_gate, gate_config_from_manifest
from evalkit.analysis.outcome import GateOutcome
from evalkit.analysis.partial import PartialAnalysis, PartialCollector, analyse_partial
from evalkit.analysis.summary import RunSummary
from evalkit.economics import Economics, compute_economics
from evalkit.errors import RunDirError
from evalkit.report.csv import write_gaps_csv, write_summary_csv
from evalkit.report.economics_view import economics_inputs
from evalkit.report.examples import DEFAULT_LIMIT, Example, collect_examples, pick_cells
from evalkit.report.gaps_json import write_gaps_json
from evalkit.report.html import render_html, write_html
from evalkit.report.index import index_root, write_index
from evalkit.report.junit import write_junit
from evalkit.report.markdown import append_step_summary, render_markdown
from evalkit.report.metrics_json import write_scorer_metrics
from evalkit.report.samples_csv import SamplesCsv
from evalkit.report.summary_json import write_summary_json
from evalkit.rundir.manifest import Manifest, read_manifest
from evalkit.types import Result

__all__ = ["ReportData", "load_report_data", "write_report"]

SUMMARY_CSV = "summary.csv"
GAPS_CSV = "gaps.csv"
GAPS_JSON = "gaps.json"
SCORER_METRICS_JSON = "scorer_metrics.json"
REPORT_HTML = "report.html"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
JUNIT_XML = "junit.xml"


@dataclass(frozen=True)
class ReportData:
    """Everything a report writer reads."""

    manifest: Manifest
    summary: RunSummary
    gate: GateOutcome | None
    max_gap: float | None
    examples: list[Example]
    economics: Economics | None = None
    """Costs, savings and break-even at the suite's volume (:mod:`evalkit.report.economics_view`)."""
    partial: PartialAnalysis | None = None
    """Each open model's partial migration (:mod:`evalkit.analysis.partial`); ``None`` without a valid gate."""


def load_report_data(
    run_dir: str | Path,
    *,
    example_limit: int = DEFAULT_LIMIT,
    on_result: Callable[[Result], None] | None = None,
) -> ReportData:
    """Aggregate the run folder, price it, find its partial migrations, evaluate its gate and pick the
    examples, in one pass over the ledger (``on_result`` sees every result of it)."""
    collector = PartialCollector()

    def feed(r: Result) -> None:
        collector.add(r)
        if on_result is not None:
            on_result(r)

    agg, ledger_warnings = build_aggregator(run_dir, on_result=feed)
    summary = agg.finish(ledger_warnings)
    inputs, volume = economics_inputs(summary, agg.manifest)
    economics = compute_economics(inputs, baseline=summary.best_closed, volume=volume)
    gate: GateOutcome | None = None
    max_gap: float | None = None
    partial: PartialAnalysis | None = None
    try:
        cfg = gate_config_from_manifest(agg.manifest)
        partial = analyse_partial(
            summary,
            agg,
            collector,
            cfg,
            dataset_tags=agg.manifest.tag_fields,
            inputs={m.name: m for m in inputs},
            volume=volume,
            models={m.name: m.info.model for m in summary.models},
        )
        gate = evaluate_gate(summary, cfg, partial)
        max_gap = cfg.max_gap
    except RunDirError as exc:
        summary.warnings.append(f"gate not evaluated: {exc}")
    examples: list[Example] = []
    if summary.gate_scorer is not None and example_limit > 0:
        picked = pick_cells(agg.cell_values(summary.gate_scorer), example_limit)
        examples = collect_examples(run_dir, picked, summary.scorers)
    return ReportData(agg.manifest, summary, gate, max_gap, examples, economics, partial)


def write_report(
    run_dir: str | Path,
    *,
    example_limit: int = DEFAULT_LIMIT,
    step_summary: bool = True,
    index: bool = True,
) -> list[Path]:
    """Write every report file into ``run_dir`` and return their paths (then, with ``index``, the
    results folder's ``index.html`` when ``run_dir`` is ``results/<suite>/<run>``). With ``step_summary`` and ``$GITHUB_STEP_SUMMARY`` set,
    summary.md is also appended to that file."""
    run_dir = Path(run_dir)
    samples = SamplesCsv(run_dir, read_manifest(run_dir))  # filled by the same pass as the aggregates
    try:
        data = load_report_data(run_dir, example_limit=example_limit, on_result=samples.add)
    except BaseException:
        samples.abort()
        raise
    html = render_html(
        data.summary,
        data.manifest,
        data.examples,
        data.gate,
        max_gap=data.max_gap,
        example_limit=example_limit,
        economics=data.economics,
        partial=data.partial,
    )
    markdown = render_markdown(
        data.summary, data.manifest, data.gate, data.max_gap, economics=data.economics, partial=data.partial
    )
    md_path = atomic_write_text(run_dir / SUMMARY_MD, markdown, errors="replace")
    paths = [
        write_summary_csv(data.summary, run_dir / SUMMARY_CSV),
        samples.close(),
        write_gaps_csv(data.summary, run_dir / GAPS_CSV, data.max_gap),
        write_gaps_json(data.summary, data.manifest, run_dir / GAPS_JSON, data.max_gap),
        write_scorer_metrics(data.summary, data.manifest, run_dir / SCORER_METRICS_JSON),
        write_html(html, run_dir / REPORT_HTML),
        write_summary_json(
            data.summary,
            data.manifest,
            data.gate,
            run_dir / SUMMARY_JSON,
            data.max_gap,
            economics=data.economics,
            partial=data.partial,
        ),
        md_path,
        write_junit(
            data.summary, data.manifest, data.gate, run_dir / JUNIT_XML, data.max_gap, partial=data.partial
        ),
    ]
    if step_summary:
        append_step_summary(markdown)
    root = index_root(run_dir, data.summary.suite) if index else None
    if root is not None:
        paths.append(write_index(root))
    return paths
