"""One streaming pass over the ledger into a :class:`~evalkit.analysis.summary.RunSummary`.

Per model x scorer (and per model x tag slice ``name=value``): n, mean and interval (Wilson for
0/1 scores, bootstrap otherwise, a cluster bootstrap over examples when there are several epochs),
the flip rate across epochs, errors, tokens, cost and latency. Then the paired gaps
(:mod:`evalkit.analysis.gaps`): every closed minus every open model (the matrix), and the best closed
model (highest mean on the gate scorer over the whole run) minus each open model, per scorer and
slice, on the cells ``(sample_id, epoch)`` both have a value for, Holm-corrected per scorer.
Statistics (docs/statistics.md): :mod:`evalkit.stats`; the confidence is run.json
``gate.confidence`` (default 0.95).

Error policy (run.json ``suite_config.errors``, default ``count_as_wrong``):

* ``count_as_wrong`` — an errored cell scores 0 on every scorer, both in the model's mean and in
  the pairing (a model that times out is worse, not absent).
* ``exclude`` — errored cells are left out of means and pairs (errors are still counted).

Scorer-specific metrics (per model x scorer, whole run, answered cells with a verdict): the
accumulators of :mod:`evalkit.scorers.metrics`, chosen by each scorer's family name and arguments
in run.json ``scorers`` (``[{key, name, args}]``); ``json_valid`` metrics also say whether a
requested ``response_format`` was honoured (:func:`~evalkit.scorers.metrics.structured_output_check`).

Memory: per cell only the numbers pairing needs (scorer -> (sample_id, epoch) -> model -> value),
the latencies for the percentiles and each sample's tags; per model x scorer the accumulators'
counts; never whole results.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from evalkit.analysis.gaps import best_closed_rows, gap_matrix, pick_best_closed
from evalkit.analysis.summary import (
    ALL,
    GapSummary,
    ModelInfo,
    ModelSummary,
    RunSummary,
    ScoreStat,
    UsageStat,
)
from evalkit.analysis.usage import UsageAccumulator
from evalkit.rundir.ledger import iter_results
from evalkit.rundir.manifest import Manifest, read_manifest
from evalkit.rundir.records import ErrorPolicy
from evalkit.scorers.metrics import Accumulator, structured_output_check
from evalkit.scorers.registry import metrics_for
from evalkit.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, flip_rate, mean_interval
from evalkit.types import Result

__all__ = [
    "Aggregator",
    "CellKey",
    "ErrorPolicy",
    "aggregate",
    "build_aggregator",
    "summarize_run",
]

CellKey = tuple[str, int]
"""(sample_id, epoch): the unit two models are paired on."""


def _model_infos(manifest: Manifest) -> dict[str, ModelInfo]:
    return {
        m.name: ModelInfo(
            name=m.name,
            group=m.group,
            status=m.status or "ok",
            status_reason=m.status_reason,
            model=m.model,
            params=m.params,
        )
        for m in manifest.models
    }


class Aggregator:
    """Feed it results with :meth:`add`, then :meth:`finish` into a :class:`RunSummary`."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        error_policy: ErrorPolicy | str | None = None,
        seed: int = DEFAULT_SEED,
        n_resamples: int = DEFAULT_RESAMPLES,
        confidence: float | None = None,
    ) -> None:
        self.manifest = manifest
        self.policy = ErrorPolicy(error_policy) if error_policy else manifest.error_policy
        self.seed, self.n_resamples = seed, n_resamples
        self.confidence = confidence if confidence is not None else manifest.confidence
        self.models = _model_infos(manifest)
        self.scorers = manifest.scorer_keys
        self._specs = {s.key: (s.name, s.args) for s in manifest.scorers}
        self._metrics: dict[tuple[str, str], Accumulator] = {}
        self.warnings: list[str] = []
        self._usage: dict[tuple[str, str], UsageAccumulator] = defaultdict(UsageAccumulator)
        self._values: dict[str, dict[CellKey, dict[str, float]]] = {s: {} for s in self.scorers}
        self._sample_slices: dict[str, tuple[str, ...]] = {}
        self._missing: Counter[tuple[str, str]] = Counter()
        self._bad_values: Counter[tuple[str, str]] = Counter()

    def add(self, r: Result) -> None:
        if r.model not in self.models:
            self.models[r.model] = ModelInfo(r.model, None, "unlisted", "in the ledger but not in run.json")
            self.warnings.append(
                f"model {r.model!r} is in samples.jsonl but not in run.json: left out of gaps"
            )
        slices = self._sample_slices.get(r.sample_id)
        if slices is None:
            slices = tuple(sorted(f"{k}={v}" for k, v in (r.tags or {}).items()))
            self._sample_slices[r.sample_id] = slices
        for sl in (ALL, *slices):
            self._usage[(r.model, sl)].add(r)
        for key in r.scores:
            if key not in self._values:
                self.scorers.append(key)
                self._values[key] = {}
                self.warnings.append(f"scorer {key!r} is in samples.jsonl but not in run.json")
        cell = (r.sample_id, r.epoch)
        if not r.completion.ok:
            if self.policy is ErrorPolicy.COUNT_AS_WRONG:
                for key in self.scorers:
                    self._values[key].setdefault(cell, {})[r.model] = 0.0
            return
        for key in self.scorers:
            score = r.scores.get(key)
            if score is None:
                self._missing[(r.model, key)] += 1
                continue
            acc = self._metrics.get((r.model, key))
            if acc is None:
                name, args = self._specs.get(key, (key, {}))
                acc = self._metrics[(r.model, key)] = metrics_for(name, args)
            acc.add(r.expected, score, r.sample_id)
            try:
                value = float(score.value)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                self._bad_values[(r.model, key)] += 1
                continue
            self._values[key].setdefault(cell, {})[r.model] = value

    def cell_values(self, scorer: str) -> Mapping[CellKey, Mapping[str, float]]:
        """(sample_id, epoch) -> model -> value for one scorer, in the order cells first landed."""
        return self._values.get(scorer, {})

    def sample_slices(self, sample_id: str) -> tuple[str, ...]:
        return self._sample_slices.get(sample_id, ())

    # --- finishing ---------------------------------------------------------------------------

    def _values_by_model_slice(self, scorer: str) -> dict[tuple[str, str], tuple[list[float], list[str]]]:
        """(model, slice) -> (values, the sample id of each value)."""
        out: dict[tuple[str, str], tuple[list[float], list[str]]] = defaultdict(lambda: ([], []))
        for (sid, _epoch), per_model in self._values[scorer].items():
            for sl in (ALL, *self._sample_slices.get(sid, ())):
                for model, v in per_model.items():
                    vals, sids = out[(model, sl)]
                    vals.append(v)
                    sids.append(sid)
        return out

    def _score_stat(
        self, scorer: str, model: str, cells: tuple[list[float], list[str]], slice_: str
    ) -> ScoreStat:
        values, sids = cells
        iv = mean_interval(
            values,
            clusters=sids,
            confidence=self.confidence,
            n_resamples=self.n_resamples,
            seed=self.seed,
        )
        flips = flip_rate(values, sids)
        missing = self._missing[(model, scorer)] if slice_ == ALL else 0
        return ScoreStat(
            scorer,
            iv.n,
            iv.estimate,
            iv.low,
            iv.high,
            iv.method,
            missing,
            n_examples=len(set(sids)),
            flip_rate=flips.rate,
            flip_examples=flips.examples,
        )

    def scorer_metrics(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Model -> scorer key -> the scorer's metrics (whole run), for the models with verdicts."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for name, info in self.models.items():
            for key in self.scorers:
                acc = self._metrics.get((name, key))
                if acc is None:
                    continue
                metrics = acc.finish()
                if metrics.get("kind") == "json":
                    metrics["structured_output"] = structured_output_check(info.params, metrics)
                out.setdefault(name, {})[key] = metrics
        return out

    def finish(self, extra_warnings: Iterable[str] = ()) -> RunSummary:
        values = {s: self._values_by_model_slice(s) for s in self.scorers}
        all_slices = sorted({sl for (_m, sl) in self._usage if sl != ALL})
        models: list[ModelSummary] = []
        slices: list[ModelSummary] = []
        for name, info in self.models.items():
            for sl in (ALL, *all_slices):
                acc = self._usage.get((name, sl))
                if acc is None and sl != ALL:
                    continue
                usage = acc.freeze() if acc is not None else UsageStat()
                scores = {
                    s: self._score_stat(s, name, values[s].get((name, sl), ([], [])), sl)
                    for s in self.scorers
                }
                (models if sl == ALL else slices).append(ModelSummary(info, sl, usage, scores))

        warnings = [*extra_warnings, *self.warnings]
        for (model, scorer), k in sorted(self._missing.items()):
            warnings.append(
                f"{k} answered cells of {model!r} have no {scorer!r} verdict: left out of its mean"
            )
        for (model, scorer), k in sorted(self._bad_values.items()):
            warnings.append(f"{k} {scorer!r} verdicts of {model!r} are not finite numbers: left out")

        gate_scorer = self.manifest.gate_scorer
        if gate_scorer is not None and gate_scorer not in self.scorers:
            warnings.append(f"gate scorer {gate_scorer!r} is not one of the run's scorers")
            best_closed: str | None = None
            gap_note: str | None = (
                f"The gate scorer {gate_scorer!r} has no results, so there is no gap to measure."
            )
        else:
            best_closed, gap_note = pick_best_closed(models, gate_scorer)
        matrix = self._matrix(models, slices, all_slices) if best_closed else []
        gaps = best_closed_rows(matrix, best_closed) if best_closed else []

        suite = self.manifest.suite
        return RunSummary(
            suite=suite.name,
            suite_version=suite.version,
            run_id=self.manifest.run_id,
            status=self.manifest.status,
            scorers=list(self.scorers),
            gate_scorer=gate_scorer,
            error_policy=self.policy.value,
            models=models,
            slices=slices,
            gaps=gaps,
            gap_matrix=matrix,
            epochs=self._epochs(),
            best_closed=best_closed,
            gap_note=gap_note,
            warnings=warnings,
            seed=self.seed,
            n_resamples=self.n_resamples,
            confidence=self.confidence,
            scorer_metrics=self.scorer_metrics(),
        )

    def _epochs(self) -> int:
        declared = self.manifest.epochs
        seen = 1 + max((e for cells in self._values.values() for (_s, e) in cells), default=0)
        return max(declared, seen) if declared is not None else seen

    def _matrix(
        self, models: list[ModelSummary], slices: list[ModelSummary], all_slices: list[str]
    ) -> list[GapSummary]:
        ran = [m for m in models if m.usage.cells > 0]
        errors = {(m.name, m.slice): m.usage.errors for m in [*models, *slices]}
        return gap_matrix(
            self._values,
            closed=[m.name for m in ran if m.group == "closed"],
            open_=[m.name for m in ran if m.group == "open"],
            slices_of=self._sample_slices,
            slices=all_slices,
            errors=errors,
            confidence=self.confidence,
            n_resamples=self.n_resamples,
            seed=self.seed,
        )


def aggregate(
    run_dir: str | Path,
    *,
    error_policy: ErrorPolicy | str | None = None,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> RunSummary:
    """Read a run folder (run.json + samples.jsonl) into a :class:`RunSummary`."""
    agg, warnings = build_aggregator(run_dir, error_policy=error_policy, seed=seed, n_resamples=n_resamples)
    return agg.finish(warnings)


def build_aggregator(
    run_dir: str | Path,
    *,
    error_policy: ErrorPolicy | str | None = None,
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    on_result: Callable[[Result], None] | None = None,
) -> tuple[Aggregator, list[str]]:
    """The fed :class:`Aggregator` (for callers that also want per-cell values) and the ledger warnings.
    ``on_result`` sees every result of the same pass (the report writes samples.csv from it)."""
    manifest = read_manifest(run_dir)
    agg = Aggregator(manifest, error_policy=error_policy, seed=seed, n_resamples=n_resamples)
    warnings: list[str] = []
    for r in iter_results(run_dir, warnings):
        agg.add(r)
        if on_result is not None:
            on_result(r)
    return agg, warnings


def summarize_run(run_dir: str | Path) -> RunSummary:
    """Alias of :func:`aggregate` with the defaults (the name the CLI uses)."""
    return aggregate(run_dir)
