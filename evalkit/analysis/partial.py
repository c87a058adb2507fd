"""The partial migration of a run, from its folder alone: per open model, which slices can move from
the best closed model and what the blend gives (docs/statistics.md, "Partial migration").

One pass over the ledger feeds both the :class:`~evalkit.analysis.aggregate.Aggregator` and a
:class:`PartialCollector` (``on_result``): each example's raw ``tags`` and the characters of its
``input`` (the length buckets), and each request's token counts (the per-slice token mixes of the
cost). Then :func:`analyse_partial`, per open model that ran:

* the paired cells of the gate scorer (best closed and the open model, as
  :meth:`~evalkit.analysis.aggregate.Aggregator.cell_values` gives them: the error policy applied,
  epochs grouped by sample) become :class:`~evalkit.stats.slicing.BlendData`;
* :func:`evalkit.stats.partial.partial_migration` chooses the slices on one half and measures the
  blend on the other, with the gate's ``max_gap``, the run's confidence, resamples and seed, over
  the fields ``gate.partial.fields`` names (default every ``dataset.tags`` field) and
  ``gate.partial.length_buckets`` input-length buckets;
* each slice of the chosen field gets its share of the traffic and each model's measured tokens per
  request on it (:func:`evalkit.economics.blend.slice_mixes`); given the models' prices
  (``inputs``: the report's :class:`~evalkit.economics.ModelInput`), :func:`~evalkit.economics.blend.blend_cost`
  prices the blend at the suite's volume. Without prices the cost is ``None`` (unknown, never $0).

The gate's fourth outcome reads :meth:`PartialAnalysis.recommended`: among the open models whose
partial migration exists, the largest monthly saving when every one has a known saving, else the
largest (held-out) share of traffic moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from evalkit.analysis.aggregate import Aggregator
from evalkit.analysis.summary import RunSummary
from evalkit.config.schema import GateConfig
from evalkit.economics import BlendCost, ModelInput, SliceCost, Volume, blend_cost, slice_mixes
from evalkit.stats.partial import PartialMigration, partial_migration
from evalkit.stats.slicing import BlendData
from evalkit.types import Result

__all__ = [
    "NO_VALUE",
    "PartialAnalysis",
    "PartialCollector",
    "PartialEntry",
    "analyse_partial",
]

NO_VALUE = "(no value)"
"""The slice of the examples without a value for the routing field: they stay on the closed model."""


class PartialCollector:
    """What the partial migration reads from each ledger result (pass :meth:`add` as ``on_result``).

    Per sample: its tags and the characters of its input (from its first result); per model: each
    request's sample and token counts. Nothing else of a result is kept.
    """

    def __init__(self) -> None:
        self.examples: dict[str, tuple[dict[str, str], int]] = {}
        self.requests: dict[str, list[tuple[str, int | None, int | None]]] = {}

    def add(self, r: Result) -> None:
        if r.sample_id not in self.examples:
            tags = {str(k): str(v) for k, v in (r.tags or {}).items() if v is not None}
            self.examples[r.sample_id] = (tags, len(r.input) if isinstance(r.input, str) else 0)
        c = r.completion
        self.requests.setdefault(r.model, []).append((r.sample_id, c.input_tokens, c.output_tokens))

    def tag_fields(self) -> list[str]:
        """Every tag field some example has, sorted."""
        return sorted({f for tags, _n in self.examples.values() for f in tags})


@dataclass(frozen=True, slots=True)
class PartialEntry:
    """One open model's partial migration against the best closed model."""

    open_model: str
    migration: PartialMigration | None
    """``None`` when it could not be computed (:attr:`note` says why)."""
    slices: tuple[SliceCost, ...] = ()
    """The chosen field's slices: share of traffic, where each goes, each model's measured tokens there
    (empty when no slice moves)."""
    cost: BlendCost | None = None
    """The blend's cost at the suite's volume (``None``: no slice moves, or no prices were given)."""
    note: str | None = None

    @property
    def exists(self) -> bool:
        """A partial migration exists (:func:`evalkit.stats.partial.partial_migration_exists`)."""
        return self.migration is not None and self.migration.exists

    @property
    def reason(self) -> str:
        return self.migration.reason if self.migration is not None else (self.note or "not computed")

    @property
    def share(self) -> float | None:
        """The held-out share of traffic routed to the open model."""
        honest = self.migration.honest if self.migration is not None else None
        return honest.share.estimate if honest is not None else None

    @property
    def saving_usd(self) -> float | None:
        return self.cost.saving_usd if self.cost is not None else None


@dataclass(frozen=True, slots=True)
class PartialAnalysis:
    """Every open model's partial migration, and the settings they were computed with."""

    closed_model: str | None
    scorer: str | None
    allow: bool
    """``gate.partial.allow``: the gate may answer *migrate partially*."""
    fields: tuple[str, ...]
    """The tag fields a router may use (sliced beside the input-length buckets)."""
    length_buckets: int
    max_gap: float | None
    confidence: float
    entries: tuple[PartialEntry, ...] = ()
    note: str | None = None
    """Why no open model was analysed (no margin, no closed-vs-open pair...)."""
    models: Mapping[str, str | None] | None = None
    """Display name -> LiteLLM model string, for the routing rule's readers."""

    def entry(self, open_model: str) -> PartialEntry | None:
        return next((e for e in self.entries if e.open_model == open_model), None)

    def found(self) -> tuple[PartialEntry, ...]:
        """The open models whose partial migration exists."""
        return tuple(e for e in self.entries if e.exists)

    def routing_rule(self, entry: PartialEntry) -> dict[str, Any] | None:
        """``entry``'s routing rule (:meth:`evalkit.stats.partial.PartialMigration.routing_rule`) plus
        ``models``: each model it names -> its LiteLLM model string. ``None`` when nothing moves."""
        rule = entry.migration.routing_rule() if entry.migration is not None else None
        if rule is None:
            return None
        names = (entry.migration.closed_model, entry.migration.open_model) if entry.migration else ()
        return {**rule, "models": {n: (self.models or {}).get(n) for n in names}}

    def recommended(self, among: Sequence[str] | None = None) -> PartialEntry | None:
        """The partial migration to take (of the open models ``among``, default all): the largest
        saving when every candidate's saving is known, else the largest share of traffic moved
        (ties: the name)."""
        pool = [e for e in self.found() if among is None or e.open_model in among]
        if not pool:
            return None
        if all(e.saving_usd is not None for e in pool):
            return max(pool, key=lambda e: (e.saving_usd or 0.0, e.share or 0.0, _neg(e.open_model)))
        return max(pool, key=lambda e: (e.share or 0.0, _neg(e.open_model)))


def _neg(name: str) -> tuple[int, ...]:
    """Sorts names in reverse, so ``max`` takes the first name on ties."""
    return tuple(-ord(ch) for ch in name)


def analyse_partial(
    summary: RunSummary,
    agg: Aggregator,
    collector: PartialCollector,
    gate: GateConfig,
    *,
    dataset_tags: Sequence[str] | None = None,
    inputs: Mapping[str, ModelInput] | None = None,
    volume: Volume | None = None,
    models: Mapping[str, str | None] | None = None,
) -> PartialAnalysis:
    """Each open model's partial migration against ``summary.best_closed`` (pure over what the pass gathered).

    ``dataset_tags``: the suite's ``dataset.tags`` (the default fields; else every tag field in the
    ledger); ``inputs``: each model's prices (by name) for the cost, ``volume`` the suite's volume;
    ``models``: display name -> model string, carried into the routing rule.
    """
    scorer = gate.scorer or summary.gate_scorer or (summary.scorers[0] if summary.scorers else None)
    cfg = gate.partial
    if cfg.fields is not None:
        fields = tuple(cfg.fields)
    elif dataset_tags is not None:
        fields = tuple(dataset_tags)
    else:
        fields = tuple(collector.tag_fields())
    base = PartialAnalysis(
        summary.best_closed,
        scorer,
        cfg.allow,
        fields,
        cfg.length_buckets,
        gate.max_gap,
        summary.confidence,
        models=models,
    )
    note = None
    if gate.max_gap is None:
        note = "the gate has no max_gap, the margin each slice is judged against: no partial migration"
    elif scorer is None or scorer not in summary.scorers:
        note = f"the gate scorer {scorer!r} has no results in this run"
    elif summary.best_closed is None:
        note = summary.gap_note or "no closed-vs-open pair ran"
    if note is not None:
        return replace(base, note=note)
    assert scorer is not None and summary.best_closed is not None and gate.max_gap is not None
    values = agg.cell_values(scorer)
    entries = []
    for m in summary.models_in("open"):
        if m.usage.cells == 0:
            continue
        entries.append(
            _entry(
                summary, values, collector, fields, cfg.length_buckets, m.name, gate.max_gap, inputs, volume
            )
        )
    return replace(base, entries=tuple(entries), note=None if entries else "no open model has results")


def _entry(
    summary: RunSummary,
    values: Mapping[tuple[str, int], Mapping[str, float]],
    collector: PartialCollector,
    fields: tuple[str, ...],
    buckets: int,
    open_model: str,
    max_gap: float,
    inputs: Mapping[str, ModelInput] | None,
    volume: Volume | None,
) -> PartialEntry:
    closed = summary.best_closed
    assert closed is not None
    data = _blend_data(values, collector, fields, closed, open_model)
    if data is None:
        return PartialEntry(open_model, None, note=f"no cell was answered by both {closed} and {open_model}")
    pm = partial_migration(
        data,
        closed_model=closed,
        open_model=open_model,
        max_gap=max_gap,
        confidence=summary.confidence,
        fields=fields,
        buckets=buckets,
        n_resamples=summary.n_resamples,
        seed=summary.seed,
    )
    if pm.field is None or pm.honest is None:
        return PartialEntry(open_model, pm)
    slices = _slice_costs(pm, collector, closed, open_model)
    cost = None
    if inputs is not None and closed in inputs and open_model in inputs:
        cost = blend_cost(
            replace(inputs[closed], score=pm.honest.closed_score),
            inputs[open_model],
            slices,
            volume=volume,
            blend_score=pm.honest.score.estimate,
        )
    return PartialEntry(open_model, pm, slices, cost)


def _blend_data(
    values: Mapping[tuple[str, int], Mapping[str, float]],
    collector: PartialCollector,
    fields: tuple[str, ...],
    closed: str,
    open_model: str,
) -> BlendData | None:
    """The paired cells of the two models, each example's tags (the router's fields only) and input length.

    Cells are taken in (sample id, epoch) order, not the ledger's: the split and the bootstrap then
    depend on the run's content only, so a resumed, merged or sharded run gives the same result."""
    closed_v: list[float] = []
    open_v: list[float] = []
    example: list[int] = []
    index: dict[str, int] = {}
    for (sid, _epoch), per_model in sorted(values.items(), key=lambda kv: kv[0]):
        if closed in per_model and open_model in per_model:
            closed_v.append(per_model[closed])
            open_v.append(per_model[open_model])
            example.append(index.setdefault(sid, len(index)))
    if not index:
        return None
    known = [collector.examples.get(sid, ({}, 0)) for sid in index]
    return BlendData(
        np.asarray(closed_v, dtype=np.float64),
        np.asarray(open_v, dtype=np.float64),
        np.asarray(example, dtype=np.int64),
        {f: tuple(tags.get(f) for tags, _n in known) for f in fields},
        np.asarray([n for _tags, n in known], dtype=np.int64),
        tuple(index),
    )


def _slice_costs(
    pm: PartialMigration, collector: PartialCollector, closed: str, open_model: str
) -> tuple[SliceCost, ...]:
    """Each slice of the chosen field: its held-out share, where it goes, each model's mean tokens there."""
    cut = next(s for s in pm.slicings if s.field == pm.field)

    def label_of(sid: str) -> str:
        tags, chars = collector.examples.get(sid, ({}, 0))
        if cut.kind == "length" and cut.buckets is not None:
            return cut.labels[int(cut.buckets.bucket([chars])[0])]
        value = tags.get(cut.field)
        return value if value is not None and value in cut.labels else NO_VALUE

    def mixes(model: str) -> dict[str, Any]:
        rows = collector.requests.get(model, [])
        return slice_mixes(
            [label_of(sid) for sid, _i, _o in rows], [i for _s, i, _o in rows], [o for *_x, o in rows]
        )

    closed_mix, open_mix = mixes(closed), mixes(open_model)
    return tuple(
        SliceCost(s.label, s.share, s.to_open, closed_mix.get(s.label), open_mix.get(s.label))
        for s in pm.slice_shares()
    )
