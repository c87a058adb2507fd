"""Which slices can move to the open model: the gate's non-inferiority rule per slice, Holm-corrected
across every slice of every slicing considered, and the one field whose slices move the most traffic.

* **Per slice** — :func:`~evalkit.stats.paired.paired_gap` of closed − open on the slice's
  examples (through ``gap_fn``, the seam for another interval method). The slice is non-inferior
  when the interval's upper bound is *below* ``max_gap``, on at least
  :data:`~evalkit.stats.intervals.MIN_RELIABLE_N` examples: a two-sided interval at confidence q
  is a one-sided test at level α = (1 − q) / 2. Strictly below, unlike the gate's ``<=``: with
  pass/fail scores the bootstrap means sit on a lattice (steps of 1/n), and a bound *equal* to the
  margin means at least α of the resampled gaps reached it, so it does not exclude the margin
  (ties are common at the extreme levels Holm uses; docs/statistics.md has the figures).
* **Holm, on intervals** — a family of m slices (every slice with at least 30 examples, of every
  field: fixed by the slice sizes, which do not depend on the scores). Round 1 tests every slice
  with the one-sided bound at level α / m (a two-sided interval at ``1 − (1 − q) / m``); with r
  slices shown so far, the next round tests the rest at α / (m − r); stop when a round shows none.
  This is Holm's step-down test (the bound at a level is monotone in the level, so "bound at
  α / k below max_gap" is "p <= α / k"), on the intervals the gate already prints rather than on
  p-values the paired module does not give for a margin. It keeps the chance of moving *any* slice
  that is in truth worse than ``max_gap`` at most α whatever the dependence between slices (fields
  overlap: the same examples are cut several ways) — as far as the per-slice interval's one-sided
  error holds at level α / m (bench/blend_simulation.md measures both).
* **One field per rule** — the moved slices of a single field: the one with the largest share of
  examples moved (ties: the field listed first). Choosing after looking is free because Holm
  covers the slices of every field at once. Slices of different fields are not combined: in a
  union such as "type A or short", the part "short and not A" was never tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from evalkit.stats.intervals import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED, MIN_RELIABLE_N
from evalkit.stats.paired import PairedGap, paired_gap
from evalkit.stats.slicing import BlendData, Slicing

__all__ = ["GapFn", "RouteChoice", "Selection", "SliceVerdict", "holm_confidence", "select_slices"]

BoolArray = npt.NDArray[np.bool_]
SliceStatus = Literal["move", "keep", "too_small"]
GapFn = Callable[..., PairedGap]
"""A function with :func:`~evalkit.stats.paired.paired_gap`'s signature (the default): the seam
through which another interval method of the paired module reaches the selection and the blend."""


def holm_confidence(confidence: float, k: int) -> float:
    """The two-sided confidence whose upper bound is the one-sided test at level α / k, α = (1 − confidence) / 2."""
    return 1.0 - (1.0 - confidence) / k


@dataclass(frozen=True, slots=True)
class SliceVerdict:
    """One slice: its gap, the gate's per-slice view, and whether it moves under Holm."""

    field: str
    label: str
    n_examples: int
    closed_mean: float | None
    open_mean: float | None
    gap: float | None
    """Closed − open on the slice's examples (positive: the open model scores lower)."""
    low: float | None
    """The interval at the run's confidence, uncorrected (what the gate would say of this slice
    alone); ``None`` when not computed (the selections inside cross-fitting skip it)."""
    high: float | None
    holm_high: float | None
    """The upper bound at the last Holm level the slice was tested at."""
    holm_confidence: float | None
    """That level, as a two-sided confidence (e.g. 0.99 for 5 slices at 95 %)."""
    status: SliceStatus
    reason: str


@dataclass(frozen=True, slots=True)
class RouteChoice:
    """A routing rule as slice labels: the examples of these slices of ``field`` go to the open model."""

    field: str | None
    """``None``: nothing moves."""
    moved: tuple[str, ...] = ()

    def routed(self, cuts: Sequence[Slicing]) -> BoolArray:
        """Per example: routed to the open model. Examples without a value for the field stay."""
        if self.field is None:
            return np.zeros(cuts[0].codes.size if cuts else 0, dtype=bool)
        cut = next((s for s in cuts if s.field == self.field), None)
        if cut is None:
            raise ValueError(f"no slicing for field {self.field!r}")
        codes = [cut.labels.index(label) for label in self.moved]
        return np.isin(cut.codes, np.asarray(codes, dtype=np.int64))


@dataclass(frozen=True, slots=True)
class Selection:
    """Every slice considered, the Holm family, and the rule chosen."""

    margin: float
    confidence: float
    family: int
    """m: the slices (of every field) Holm corrected over, those with at least 30 examples."""
    slices: tuple[SliceVerdict, ...]
    choice: RouteChoice
    share: float
    """Share of the examples considered in the moved slices of the chosen field."""
    n_examples: int

    def of_field(self, field: str) -> tuple[SliceVerdict, ...]:
        return tuple(s for s in self.slices if s.field == field)

    def moved_in(self, field: str) -> tuple[str, ...]:
        """The slices of ``field`` shown non-inferior (whether or not the field was chosen)."""
        return tuple(s.label for s in self.slices if s.field == field and s.status == "move")


def select_slices(
    data: BlendData,
    cuts: Sequence[Slicing],
    *,
    max_gap: float,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    examples: BoolArray | None = None,
    describe: bool = True,
    gap_fn: GapFn = paired_gap,
) -> Selection:
    """The slices that move, Holm-corrected over every slice of every slicing in ``cuts``.

    ``examples`` (a mask over examples) restricts everything to those examples (cross-fitting
    selects on the training folds); ``describe`` also computes each slice's uncorrected interval
    at ``confidence`` for the report; ``gap_fn`` computes every interval (default ``paired_gap``).
    """
    holm_confidence(confidence, 1)  # validates confidence
    subset = np.ones(data.n_examples, dtype=bool) if examples is None else examples
    cells: dict[tuple[str, str], BoolArray] = {}
    sizes: dict[tuple[str, str], int] = {}
    for cut in cuts:
        for j, label in enumerate(cut.labels):
            members = subset & (cut.codes == j)
            sizes[(cut.field, label)] = int(members.sum())
            cells[(cut.field, label)] = data.cells_of(members)

    def gap_at(key: tuple[str, str], level: float) -> PairedGap:
        mask = cells[key]
        ids = data.example[mask] if data.clustered else None
        return gap_fn(
            data.closed[mask],
            data.open_[mask],
            clusters=ids,
            confidence=level,
            n_resamples=n_resamples,
            seed=seed,
        )

    eligible = [key for key, n in sizes.items() if n >= MIN_RELIABLE_N]
    m = len(eligible)
    last: dict[tuple[str, str], PairedGap] = {}
    level_of: dict[tuple[str, str], float] = {}
    moved: set[tuple[str, str]] = set()
    remaining = list(eligible)
    while remaining:
        level = holm_confidence(confidence, m - len(moved))
        shown = []
        for key in remaining:
            g = last[key] = gap_at(key, level)
            level_of[key] = level
            if g.high is not None and g.high < max_gap:
                shown.append(key)
        if not shown:
            break
        moved.update(shown)
        remaining = [k for k in remaining if k not in moved]

    verdicts = [
        _verdict(
            key,
            sizes[key],
            gap_at(key, confidence) if describe else None,
            last.get(key),
            level_of,
            moved,
            m,
            max_gap,
        )
        for key in sizes
    ]
    n_sub = int(subset.sum())
    best: tuple[float, int, str] | None = None
    for order, cut in enumerate(cuts):
        count = sum(sizes[(cut.field, label)] for label in cut.labels if (cut.field, label) in moved)
        if count and n_sub and (best is None or count / n_sub > best[0]):
            best = (count / n_sub, order, cut.field)
    if best is None:
        choice, share = RouteChoice(None), 0.0
    else:
        cut = cuts[best[1]]
        choice = RouteChoice(cut.field, tuple(lb for lb in cut.labels if (cut.field, lb) in moved))
        share = best[0]
    return Selection(max_gap, confidence, m, tuple(verdicts), choice, share, n_sub)


def _verdict(
    key: tuple[str, str],
    n: int,
    nominal: PairedGap | None,
    tested: PairedGap | None,
    level_of: dict[tuple[str, str], float],
    moved: set[tuple[str, str]],
    m: int,
    margin: float,
) -> SliceVerdict:
    field, label = key
    ref = nominal or tested
    low = nominal.low if nominal is not None else None
    high = nominal.high if nominal is not None else None
    head = f"{field}={label}: "
    if ref is not None and ref.gap is not None:
        head += f"gap {ref.gap:+.3f}"
        if low is not None and high is not None:
            head += f" [{low:+.3f}, {high:+.3f}]"
        head += f" on {n} examples"
    else:
        head += "no paired example"
    if tested is None or tested.high is None:
        why = f"{head}: fewer than {MIN_RELIABLE_N} examples, so it cannot be shown within max_gap"
        status: SliceStatus = "too_small"
        holm_high, holm_level = None, None
    else:
        holm_level = level_of[key]
        holm_high = tested.high
        bound = f"upper bound {holm_high:+.3f} at the Holm level {holm_level:.4g} (family of {m})"
        if key in moved:
            status, why = "move", f"{head}: {bound} < max_gap {margin:g}"
        else:
            status, why = "keep", f"{head}: {bound} >= max_gap {margin:g}"
    return SliceVerdict(
        field=field,
        label=label,
        n_examples=n,
        closed_mean=ref.closed_mean if ref is not None else None,
        open_mean=ref.open_mean if ref is not None else None,
        gap=ref.gap if ref is not None else None,
        low=low,
        high=high,
        holm_high=holm_high,
        holm_confidence=holm_level,
        status=status,
        reason=why,
    )
