"""``evalkit compare RUN_DIR...``: one row per task across several suites' runs.

Each task (a suite name) gets: the best closed model and its score, the best open model and its
score, the paired gap with its interval, the p-value Holm-corrected across the tasks of the table,
and the gate's verdict (migrate / stay / inconclusive / cannot decide) from that task's own gate.

Several runs of the *same* task are combined into one (e.g. the closed models ran yesterday, the
open ones today): their models are pooled and paired on ``(sample_id, epoch)``. That is only
meaningful when they ran the same examples through the same task, so the runs must agree on
run.json ``dataset.sha256`` and ``suite.task_hash`` (the suite without its models, defaults and
gate); otherwise :func:`load_tasks` refuses with one line naming the folders and what differs
(exit 2). A model present in several runs of a task is taken from the newest run (by
``started_at``); the gate is the newest run's. Runs of different suites combine freely.

The best open model is the one the gate migrates to when it migrates, else the open model with
the highest mean on the gate scorer.

The ``partial_migration`` column says whether some slices could move to an open model
(:mod:`evalkit.analysis.partial`, the run folders alone: without prices, so among several open
models with one the largest share of traffic names it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalkit.analysis.aggregate import Aggregator
from evalkit.analysis.gate import evaluate_gate, gate_config_from_manifest
from evalkit.analysis.outcome import GateOutcome, Overall, gate_exit_code, verdict_text
from evalkit.analysis.partial import PartialAnalysis, PartialCollector, analyse_partial
from evalkit.analysis.summary import ALL, RunSummary
from evalkit.errors import RunDirError
from evalkit.rundir.ledger import iter_results
from evalkit.rundir.manifest import Manifest, read_manifest
from evalkit.stats import holm

__all__ = [
    "COMPARE_COLUMNS",
    "CompareRow",
    "CompareTable",
    "compare_runs",
    "load_tasks",
]

COMPARE_COLUMNS = [
    "task",
    "runs",
    "scorer",
    "closed_model",
    "closed_score",
    "open_model",
    "open_score",
    "gap",
    "ci_low",
    "ci_high",
    "n_examples",
    "p_value",
    "p_holm",
    "p_method",
    "verdict",
    "exit_code",
    "reason",
    "partial_migration",
]

Run = tuple[Path, Manifest]


@dataclass(frozen=True, slots=True)
class CompareRow:
    task: str
    runs: tuple[str, ...]
    scorer: str | None
    closed_model: str | None
    closed_score: float | None
    open_model: str | None
    open_score: float | None
    gap: float | None
    ci_low: float | None
    ci_high: float | None
    n_examples: int
    p_value: float | None
    p_holm: float | None
    p_method: str | None
    verdict: str
    """``migrate``, ``stay``, ``inconclusive`` or ``cannot decide``."""
    exit_code: int
    """What ``evalkit gate`` would exit with for this task."""
    reason: str
    """The gate's verdict line."""
    partial_migration: str | None = None
    """``yes: MODEL routes FIELD in {…} (share)`` when a partial migration exists, ``no`` when none
    does, ``None`` when it could not be computed (no max_gap, no closed-vs-open pair)."""


@dataclass(frozen=True, slots=True)
class CompareTable:
    rows: list[CompareRow]
    notes: list[str]
    confidence: float

    @property
    def holm_family(self) -> int:
        return sum(r.p_value is not None for r in self.rows)


def _task_name(manifest: Manifest) -> str:
    return manifest.suite.name or "(unnamed)"


def _fingerprint(manifest: Manifest) -> dict[str, Any]:
    return {"dataset sha256": manifest.dataset.sha256, "suite task_hash": manifest.suite.task_hash}


def _short(v: Any) -> str:
    return "missing" if v is None else str(v)[:12]


def load_tasks(run_dirs: Sequence[str | Path]) -> dict[str, list[Run]]:
    """Read each folder's run.json, group them by task and refuse incomparable runs of one task."""
    tasks: dict[str, list[Run]] = {}
    seen: set[Path] = set()
    for d in run_dirs:
        path = Path(d)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        manifest = read_manifest(path)
        tasks.setdefault(_task_name(manifest), []).append((path, manifest))
    for task, runs in tasks.items():
        first_path, first = runs[0]
        want = _fingerprint(first)
        for path, manifest in runs[1:]:
            got = _fingerprint(manifest)
            differ = [k for k in want if want[k] is None or got[k] is None or want[k] != got[k]]
            if differ:
                what = "; ".join(f"{k} {_short(want[k])} vs {_short(got[k])}" for k in differ)
                raise RunDirError(
                    f"cannot combine runs of task {task!r}: {first_path} and {path} are not comparable "
                    f"(different {what})"
                )
    return tasks


def _started(run: Run) -> tuple[str, str]:
    m = run[1]
    return (m.started_at or "", m.run_id or "")


def _merge(runs: list[Run], notes: list[str]) -> tuple[RunSummary, GateOutcome, PartialAnalysis]:
    """Pool the runs of one task (newest first owns a model) into a summary and its gate."""
    ordered = sorted(runs, key=_started, reverse=True)
    newest_path, newest = ordered[0]
    merged = Manifest(newest.to_dict(), where=newest.where)
    owner: dict[str, Path] = {}
    models: list[dict[str, Any]] = []
    for path, manifest in ordered:
        for m in manifest.models:
            name = m.name
            if name in owner:
                if len(runs) > 1 and path != owner[name]:
                    notes.append(
                        f"{_task_name(newest)}: {name} from {owner[name]} (newest); left out of {path}"
                    )
                continue
            owner[name] = path
            models.append(dict(m.raw))
    statuses = [m.status for _p, m in ordered]
    merged.update(models=models, status=next((st for st in statuses if st != "finished"), "finished"))
    if len(runs) > 1 and any(m.gate != newest.gate for _p, m in ordered):
        notes.append(
            f"{_task_name(newest)}: the runs' gates differ; the newest run's gate ({newest_path}) is used"
        )
    agg = Aggregator(merged)
    collector = PartialCollector()
    warnings: list[str] = []
    for path, _manifest in ordered:
        for r in iter_results(path, warnings):
            if owner.get(r.model, path) == path:
                owner.setdefault(r.model, path)  # a model only in a ledger: its first run owns it
                agg.add(r)
                collector.add(r)
    summary = agg.finish(warnings)
    cfg = gate_config_from_manifest(merged)
    partial = analyse_partial(summary, agg, collector, cfg, dataset_tags=merged.tag_fields)
    return summary, evaluate_gate(summary, cfg, partial), partial


def _partial_cell(partial: PartialAnalysis) -> str | None:
    """The compare table's partial-migration cell."""
    if partial.note is not None or not partial.entries:
        return None
    best = partial.recommended()
    if best is None or best.migration is None:
        return "no"
    pm = best.migration
    share = f"{best.share:.0%}" if best.share is not None else "?"
    where = f"{pm.field} in {{{', '.join(pm.moved)}}}"
    return f"yes: {best.open_model} takes {where} ({share} of traffic)"


def _row(
    task: str, runs: list[Run], summary: RunSummary, gate: GateOutcome, partial: PartialAnalysis | None = None
) -> CompareRow:
    scorer = gate.scorer or summary.gate_scorer
    best = summary.model(summary.best_closed) if summary.best_closed else None
    opens = [
        m
        for m in summary.models_in("open")
        if scorer is not None and scorer in m.scores and m.scores[scorer].n > 0
    ]
    open_name = gate.chosen
    if open_name is None and opens and scorer is not None:
        open_name = max(opens, key=lambda m: m.scores[scorer].mean or 0.0).name
    open_ms = summary.model(open_name) if open_name else None
    gap = next(
        (g for g in summary.gaps_for(scorer, ALL) if g.open_model == open_name) if scorer else iter(()),
        None,
    )
    verdict = "cannot decide" if gate.overall is Overall.INFRASTRUCTURE else gate.overall.value
    return CompareRow(
        task=task,
        runs=tuple(str(p) for p, _m in runs),
        scorer=scorer,
        closed_model=summary.best_closed,
        closed_score=best.scores[scorer].mean if best and scorer in best.scores else None,
        open_model=open_name,
        open_score=open_ms.scores[scorer].mean if open_ms and scorer and scorer in open_ms.scores else None,
        gap=gap.gap if gap else None,
        ci_low=gap.ci_low if gap else None,
        ci_high=gap.ci_high if gap else None,
        n_examples=gap.n_examples if gap else 0,
        p_value=gap.p_value if gap else None,
        p_holm=None,
        p_method=gap.p_method if gap else None,
        verdict=verdict,
        exit_code=int(gate_exit_code(gate)),
        reason=verdict_text(gate),
        partial_migration=_partial_cell(partial) if partial is not None else None,
    )


def compare_runs(run_dirs: Sequence[str | Path]) -> CompareTable:
    """The cross-task table of ``run_dirs`` (:class:`RunDirError` when runs cannot be combined)."""
    if not run_dirs:
        raise RunDirError("compare: give at least one run folder")
    tasks = load_tasks(run_dirs)
    notes: list[str] = []
    rows: list[CompareRow] = []
    confidence = 0.95
    for task, runs in tasks.items():
        summary, gate, partial = _merge(runs, notes)
        confidence = summary.confidence
        rows.append(_row(task, runs, summary, gate, partial))
    adjusted = holm([r.p_value for r in rows])
    rows = [_with_holm(r, p) for r, p in zip(rows, adjusted, strict=True)]
    return CompareTable(rows, notes, confidence)


def _with_holm(row: CompareRow, p: float | None) -> CompareRow:
    return replace(row, p_holm=p)
