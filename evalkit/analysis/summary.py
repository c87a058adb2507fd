"""The aggregate of a run, as typed values: what the CSV, HTML and gate stages all read.

:func:`evalkit.analysis.aggregate.aggregate` builds one :class:`RunSummary` from the run folder. Nothing
here holds a whole result; a summary is small whatever the size of the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalkit.stats.intervals import MIN_RELIABLE_N

__all__ = [
    "ALL",
    "GapSummary",
    "ModelInfo",
    "ModelSummary",
    "RunSummary",
    "ScoreStat",
    "UsageStat",
]

ALL = "all"
"""The slice label of the whole run (tag slices are ``name=value``)."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model as the manifest lists it."""

    name: str
    group: str | None
    """``closed`` / ``open``; ``None`` for a model found in the ledger but not in the manifest."""
    status: str
    """``ok``, ``skipped`` or ``stopped`` (from run.json); ``unlisted`` when not in the manifest."""
    status_reason: str | None = None
    model: str | None = None
    """The LiteLLM model string."""
    params: dict[str, Any] = field(default_factory=dict)
    """The request parameters from run.json (suite defaults merged with the model's own)."""

    @property
    def structured_output(self) -> bool:
        """True when structured output was requested (``response_format`` in the parameters)."""
        return self.params.get("response_format") not in (None, False)

    @property
    def ran(self) -> bool:
        """Sent its requests (``ok``); a stopped model ran only in part."""
        return self.status == "ok"

    @property
    def status_text(self) -> str:
        """``ok`` or e.g. ``skipped: set OPENAI_API_KEY to run this model``."""
        return (
            f"{self.status}: {self.status_reason}"
            if self.status_reason and self.status != "ok"
            else self.status
        )


@dataclass(frozen=True, slots=True)
class ScoreStat:
    """One scorer's mean over a model's cells (of one slice)."""

    scorer: str
    n: int
    """Cells counted: answered ones, plus errored ones under the count_as_wrong policy."""
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    ci_method: str
    """``wilson`` (0/1 scores), ``bootstrap``, ``cluster bootstrap`` (epochs > 1), ``all equal`` or ``none`` (n = 0)."""
    missing: int = 0
    """Answered cells that carry no verdict from this scorer (not counted in n)."""
    n_examples: int = 0
    """Distinct examples among the n cells (n / epochs when every epoch counted)."""
    flip_rate: float | None = None
    """Share of the examples answered at least twice whose values differ across epochs
    (:mod:`evalkit.stats.repeats`); ``None`` with one epoch."""
    flip_examples: int = 0
    """Examples answered at least twice (the flip rate's denominator)."""


@dataclass(frozen=True, slots=True)
class UsageStat:
    """Requests, errors, tokens, cost and latency of a model (of one slice)."""

    cells: int = 0
    """Ledger lines (answered or errored)."""
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    """Sum over the rows whose count is known."""
    input_tokens_known_rows: int = 0
    input_tokens_unknown: int = 0
    """Answered rows whose count the provider did not report."""
    output_tokens: int = 0
    output_tokens_known_rows: int = 0
    output_tokens_unknown: int = 0
    cost_usd: float = 0.0
    """Sum over the rows whose cost is known; see :attr:`cost_known`."""
    cost_known_rows: int = 0
    cost_unknown_rows: int = 0
    """Rows (answered, or errored with a recorded cost) whose cost is unknown. Errored rows
    without a cost are not counted: a request that failed has no completion to price."""
    latency_p50_s: float | None = None
    latency_p95_s: float | None = None
    cached: int = 0
    latency_p99_s: float | None = None
    ttft_p50_s: float | None = None
    """Time to first token, over the answered rows that were streamed (``None``: none was)."""
    ttft_p95_s: float | None = None
    ttft_p99_s: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.cells if self.cells else None

    @property
    def cost_rows(self) -> int:
        return self.cost_known_rows + self.cost_unknown_rows

    @property
    def cost_known(self) -> bool:
        """True when every priced row has a cost: only then is :attr:`cost_usd` the model's cost."""
        return self.cost_unknown_rows == 0

    @property
    def all_failed(self) -> bool:
        return self.cells > 0 and self.errors == self.cells


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """A model over one slice: usage and every scorer's mean."""

    info: ModelInfo
    slice: str
    usage: UsageStat
    scores: dict[str, ScoreStat]
    """Scorer key -> stat, in the suite's scorer order."""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def group(self) -> str | None:
        return self.info.group


@dataclass(frozen=True, slots=True)
class GapSummary:
    """Best closed model minus one open model, on one scorer and slice, over cells both have."""

    scorer: str
    slice: str
    closed_model: str
    open_model: str
    n_pairs: int
    closed_mean: float | None
    open_mean: float | None
    gap: float | None
    """closed - open: positive means the open model scores lower."""
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str
    discordant_closed_only: int | None
    discordant_open_only: int | None
    n_examples: int = 0
    """Examples the gap is averaged and resampled over (``n_pairs`` / epochs)."""
    p_method: str | None = None
    """``McNemar exact``, ``clustered McNemar`` or ``paired t-test``."""
    p_holm: float | None = None
    """``p_value`` Holm-adjusted over :attr:`holm_family` comparisons (``None`` where not corrected)."""
    holm_family: int | None = None
    """How many p-values the Holm correction covered (this scorer's best-closed rows: open models x slices)."""
    sd_diff: float | None = None
    """SD (ddof 0) of the per-example differences: the basis of the sample-size plan."""
    all_equal: bool = False
    """Every per-example difference was equal: the interval is the exact worst case, not a bootstrap."""
    closed_errors: int = 0
    """Failed requests of the closed model in this slice (counted as 0 or left out, by the error policy)."""
    open_errors: int = 0

    @property
    def half_width(self) -> float | None:
        return None if self.ci_low is None or self.ci_high is None else (self.ci_high - self.ci_low) / 2.0

    @property
    def reliable(self) -> bool:
        """At least 30 examples; below that the interval is flagged unreliable."""
        return self.n_examples >= MIN_RELIABLE_N


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Everything the report and the gate need, built in one pass over the ledger."""

    suite: str
    suite_version: str | None
    run_id: str | None
    status: str
    """The run's status from run.json (``finished``, ``interrupted``...)."""
    scorers: list[str]
    gate_scorer: str | None
    """The scorer the gate reads and the best closed model is chosen on."""
    error_policy: str
    """``count_as_wrong`` or ``exclude``."""
    models: list[ModelSummary]
    """One per model (slice ``all``), in manifest order, skipped models included with n = 0."""
    slices: list[ModelSummary]
    """One per model x tag slice (``name=value``) that has results."""
    gaps: list[GapSummary]
    """Best closed minus each open model: slice ``all`` first, then each tag slice; per scorer
    and open model. ``p_holm`` is Holm-corrected over each scorer's rows."""
    best_closed: str | None
    gap_note: str | None
    """Why there are no gaps, in plain words (no closed / no open model ran), else ``None``."""
    warnings: list[str]
    seed: int
    n_resamples: int
    confidence: float
    gap_matrix: list[GapSummary] = field(default_factory=list)
    """Every closed model minus every open model, per scorer and slice (uncorrected p-values):
    the full matrix of gaps.json. :attr:`gaps` are its best-closed rows, Holm-corrected."""
    epochs: int = 1
    """The most epochs any example was answered in (run.json ``epochs``)."""
    scorer_metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Model -> scorer key -> that scorer's metrics over the whole run (not per slice), from the
    answered cells with a verdict: see :mod:`evalkit.scorers.metrics` (confusion matrix, JSON
    failure classes, refusal matrix...). ``json`` metrics also carry ``structured_output``."""

    def model(self, name: str) -> ModelSummary | None:
        return next((m for m in self.models if m.name == name), None)

    def models_in(self, group: str) -> list[ModelSummary]:
        return [m for m in self.models if m.group == group]

    def gaps_for(self, scorer: str, slice_: str = ALL) -> list[GapSummary]:
        return [g for g in self.gaps if g.scorer == scorer and g.slice == slice_]

    @property
    def slice_names(self) -> list[str]:
        return sorted({s.slice for s in self.slices})
