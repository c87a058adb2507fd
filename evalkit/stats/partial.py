"""A partial migration: route the slices where the open model is non-inferior to it, keep the rest
on the closed model, and say what that blend gives (docs/statistics.md, "Partial migration").

:func:`partial_migration` runs the whole procedure for one closed and one open model:

1. **the slicings** — each ``tags`` field and the input-length buckets
   (:func:`~evalkit.stats.slicing.slicings`), fixed from the inputs alone;
2. **the split** — :func:`~evalkit.stats.blend.split_halves`: half of each slice chooses, the other
   half measures;
3. **the rule** — :func:`~evalkit.stats.selection.select_slices` on the selection half: the slices
   shown non-inferior (the gate's rule per slice, Holm over every slice of every field), the moved
   slices of the one field that moves the most traffic;
4. **the honest blend** — :func:`~evalkit.stats.blend.measure` on the estimation half (score, gap
   against all-closed with its interval, traffic share), each moved slice's held-out gap, and the
   optimistic in-sample figure beside them;
5. **the outcome** — :class:`BlendOutcome`. A partial migration exists
   (:func:`partial_migration_exists`) when some slice moves but not all the traffic, and the
   held-out blend is non-inferior to all-closed (its gap's upper bound below ``max_gap``, on at
   least 30 examples). The per-slice Holm rule protects each slice's users; the blend check asks that
   the rule hold up on examples it was not chosen on.

:class:`PartialMigration` carries what the report, the gate's fourth outcome and summary.json need:
:meth:`~PartialMigration.routing_rule` (what a routing layer loads),
:meth:`~PartialMigration.slice_shares` (the inputs of :func:`evalkit.economics.blend.blend_cost`)
and :meth:`~PartialMigration.to_dict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from evalkit.stats.blend import DEFAULT_SELECT_FRACTION, BlendEstimate, measure, split_halves
from evalkit.stats.intervals import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, MIN_RELIABLE_N
from evalkit.stats.paired import PairedGap, paired_gap
from evalkit.stats.selection import GapFn, Selection, select_slices
from evalkit.stats.slicing import DEFAULT_LENGTH_BUCKETS, LENGTH_FIELD, BlendData, Slicing, slicings

__all__ = [
    "BlendOutcome",
    "PartialMigration",
    "SliceShare",
    "partial_migration",
    "partial_migration_exists",
]


class BlendOutcome(StrEnum):
    PARTIAL = "partial"
    """Some slices, not all traffic, move, and the held-out blend is within the margin."""
    ALL = "all"
    """The rule routes every example: a full migration, which the gate's ``max_gap`` rule judges."""
    NONE = "none"
    """No slice is shown within the margin."""
    NOT_CONFIRMED = "not_confirmed"
    """Slices were shown, but the held-out blend is not shown within the margin."""


@dataclass(frozen=True, slots=True)
class SliceShare:
    """One slice of the chosen field as the cost projection needs it."""

    label: str
    share: float
    """Share of the estimation half's examples (traffic) in this slice; those without a value form ``(no value)``."""
    to_open: bool
    range: tuple[int, int | None] | None = None
    """The input-character range ``[min, max)`` of a length bucket."""


@dataclass(frozen=True, slots=True, eq=False)
class PartialMigration:
    """Which slices can move from ``closed_model`` to ``open_model``, and what the blend gives."""

    closed_model: str
    open_model: str
    margin: float
    confidence: float
    slicings: tuple[Slicing, ...]
    selection_half: npt.NDArray[np.bool_]
    """Per example: in the half that chose the rule (the rest measured it)."""
    selection: Selection
    """Every slice considered, on the selection half, and the rule chosen."""
    honest: BlendEstimate | None
    """The blend on the estimation half; ``None`` when no slice moves (the blend is all-closed)."""
    naive: BlendEstimate | None
    """The blend on the selection half: optimistic, beside the honest one only."""
    held_out: tuple[tuple[str, PairedGap], ...]
    """Each moved slice's gap on the estimation half."""
    outcome: BlendOutcome
    reason: str

    @property
    def field(self) -> str | None:
        return self.selection.choice.field

    @property
    def moved(self) -> tuple[str, ...]:
        return self.selection.choice.moved

    @property
    def exists(self) -> bool:
        """A partial migration exists (:func:`partial_migration_exists`)."""
        return self.outcome is BlendOutcome.PARTIAL

    def _cut(self) -> Slicing | None:
        return next((s for s in self.slicings if s.field == self.field), None)

    def ranges(self) -> tuple[tuple[int, int | None], ...]:
        """The moved input-character ranges ``[min, max)`` (adjacent buckets merged); empty for a tag field."""
        cut = self._cut()
        if cut is None or cut.buckets is None:
            return ()
        out: list[tuple[int, int | None]] = []
        for label, (lo, hi) in zip(cut.labels, cut.buckets.ranges, strict=True):
            if label not in self.moved:
                continue
            if out and out[-1][1] == lo:
                out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return tuple(out)

    def routing_rule(self) -> dict[str, Any] | None:
        """What a routing layer loads: tag values or length ranges -> model, else the default.

        ``{"field": "type", "route": {"homonyms": OPEN}, "default": CLOSED}``, or for lengths
        ``{"field": "input_chars", "ranges": [{"min": 0, "max": 52, "model": OPEN}], "default": CLOSED}``
        (``min`` inclusive, ``max`` exclusive, ``null`` for no upper end). ``None`` when nothing moves.
        """
        cut = self._cut()
        if cut is None:
            return None
        if cut.kind == "length":
            return {
                "field": LENGTH_FIELD,
                "measure": "characters (Unicode code points) of the sample's input",
                "ranges": [{"min": lo, "max": hi, "model": self.open_model} for lo, hi in self.ranges()],
                "default": self.closed_model,
            }
        route = {label: self.open_model for label in self.moved}
        return {"field": cut.field, "route": route, "default": self.closed_model}

    def example_slices(self) -> tuple[str | None, ...]:
        """Each example's slice label in the chosen field (``None``: no value, or nothing moves), in
        the data's example order: what groups the ledger's token counts into per-slice mixes."""
        cut = self._cut()
        if cut is None:
            return ()
        return tuple(cut.labels[c] if c >= 0 else None for c in cut.codes.tolist())

    def slice_shares(self) -> tuple[SliceShare, ...]:
        """Each slice of the chosen field, its share of the estimation half and where it goes (the cost's inputs)."""
        cut = self._cut()
        if cut is None:
            return ()
        codes = cut.codes[~self.selection_half]
        n = max(1, codes.size)
        ranges = cut.buckets.ranges if cut.buckets is not None else (None,) * len(cut.labels)
        out = [
            SliceShare(label, float(np.sum(codes == j)) / n, label in self.moved, ranges[j])
            for j, label in enumerate(cut.labels)
        ]
        missing = int(np.sum(codes < 0))
        if missing:
            out.append(SliceShare("(no value)", missing / n, False))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what summary.json's partial-migration entry holds."""
        return {
            "closed_model": self.closed_model,
            "open_model": self.open_model,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "max_gap": self.margin,
            "confidence": self.confidence,
            "field": self.field,
            "moved": list(self.moved),
            "ranges": [list(r) for r in self.ranges()],
            "routing_rule": self.routing_rule(),
            "holm_family": self.selection.family,
            "n_selection": self.selection.n_examples,
            "honest": _estimate_dict(self.honest),
            "in_sample": _estimate_dict(self.naive),
            "held_out_slices": [
                {"slice": label, "n_examples": g.n_examples, "gap": g.gap, "ci": [g.low, g.high]}
                for label, g in self.held_out
            ],
            "slices": [
                {
                    "field": s.field,
                    "slice": s.label,
                    "n_examples": s.n_examples,
                    "gap": s.gap,
                    "ci": [s.low, s.high],
                    "holm_high": s.holm_high,
                    "holm_confidence": s.holm_confidence,
                    "status": s.status,
                    "reason": s.reason,
                }
                for s in self.selection.slices
            ],
        }


def _estimate_dict(e: BlendEstimate | None) -> dict[str, Any] | None:
    if e is None:
        return None
    return {
        "name": e.name,
        "method": e.method,
        "n_examples": e.n_examples,
        "share": e.share.estimate,
        "share_ci": [e.share.low, e.share.high],
        "closed_score": e.closed_score,
        "score": e.score.estimate,
        "score_ci": [e.score.low, e.score.high],
        "gap": e.gap.gap,
        "gap_ci": [e.gap.low, e.gap.high],
        "gap_method": e.gap.method,
    }


def partial_migration_exists(pm: PartialMigration) -> bool:
    """Some slice moves but not all traffic, and the held-out blend's gap bound is within the margin."""
    return pm.exists


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} pp"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _describe(
    sel: Selection, honest: BlendEstimate | None, everyone: bool, closed: str, open_: str, margin: float
) -> tuple[BlendOutcome, str]:
    small = sum(s.status == "too_small" for s in sel.slices)
    small_txt = (
        f"; {small} slice(s) have fewer than {MIN_RELIABLE_N} examples in the selection half and cannot move"
        if small
        else ""
    )
    if sel.choice.field is None or honest is None:
        return BlendOutcome.NONE, (
            f"no slice of {open_} is shown within max_gap {margin:g} of {closed} "
            f"(Holm over {sel.family} slice(s) of the selection half, {sel.confidence:.0%}){small_txt}"
        )
    field, moved = sel.choice.field, sel.choice.moved
    g, sh = honest.gap, honest.share
    what = (
        f"route {field} in {{{', '.join(moved)}}} to {open_} ({len(moved)} of {len(sel.of_field(field))} "
        f"slices, {_pct(sh.estimate)} [{_pct(sh.low)}, {_pct(sh.high)}] of traffic)"
    )
    est = f"on the held-out half the blend's gap against all {closed} is {_pp(g.gap)} [{_pp(g.low)}, {_pp(g.high)}]"
    if everyone:
        return (
            BlendOutcome.ALL,
            f"{what}: every example moves, a full migration (the gate's max_gap judges it); {est}",
        )
    if g.high is None or g.high >= margin or g.n_examples < MIN_RELIABLE_N:
        return (
            BlendOutcome.NOT_CONFIRMED,
            f"{what}, but it is not confirmed: {est}, not within max_gap {margin:g}",
        )
    return BlendOutcome.PARTIAL, f"{what}; {est}"


def partial_migration(
    data: BlendData,
    *,
    closed_model: str,
    open_model: str,
    max_gap: float,
    confidence: float = DEFAULT_CONFIDENCE,
    fields: Sequence[str] | None = None,
    buckets: int = DEFAULT_LENGTH_BUCKETS,
    select_fraction: float = DEFAULT_SELECT_FRACTION,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    gap_fn: GapFn = paired_gap,
) -> PartialMigration:
    """Choose the slices that move on one half of the examples, measure the blend on the other.

    ``fields``: the tag fields to slice by (default every field of ``data``); ``buckets``: the
    input-length buckets (0: none); ``select_fraction``: the share that chooses; ``gap_fn``: the
    paired interval (default ``paired_gap``). The same data and ``seed`` give the same result.
    """
    if not max_gap >= 0:
        raise ValueError(f"max_gap must be non-negative, got {max_gap}")
    cuts = slicings(data, fields=fields, buckets=buckets)
    kw: dict[str, Any] = {
        "confidence": confidence,
        "n_resamples": n_resamples,
        "seed": seed,
        "gap_fn": gap_fn,
    }
    half = split_halves(data, cuts, seed=seed, fraction=select_fraction)
    sel = select_slices(data, cuts, max_gap=max_gap, examples=half, **kw)
    honest = naive = None
    held: list[tuple[str, PairedGap]] = []
    choice = sel.choice
    if choice.field is not None:
        n_sel, n_est = int(half.sum()), int((~half).sum())
        split = f"split {n_sel}/{n_est} by seed {seed}, each slice halved"
        honest = measure(
            data,
            cuts,
            choice,
            examples=~half,
            name="held-out half",
            method=f"{n_est} held-out examples ({split})",
            **kw,
        )
        naive = measure(
            data,
            cuts,
            choice,
            examples=half,
            name="in-sample",
            method=f"the {n_sel} examples that chose the rule (optimistic)",
            **kw,
        )
        cut = next(c for c in cuts if c.field == choice.field)
        for label in choice.moved:
            cells = data.cells_of(~half & cut.members(label))
            ids = data.example[cells] if data.clustered else None
            held.append(
                (
                    label,
                    gap_fn(
                        data.closed[cells],
                        data.open_[cells],
                        clusters=ids,
                        confidence=confidence,
                        n_resamples=n_resamples,
                        seed=seed,
                    ),
                )
            )
    everyone = bool(choice.routed(cuts).all()) if choice.field is not None else False
    outcome, reason = _describe(sel, honest, everyone, closed_model, open_model, max_gap)
    return PartialMigration(
        closed_model,
        open_model,
        max_gap,
        confidence,
        cuts,
        half,
        sel,
        honest,
        naive,
        tuple(held),
        outcome,
        reason,
    )
