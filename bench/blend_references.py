"""The references bench/blend_simulation.py compares evalkit's partial migration against.

* :func:`tango_gap` — a per-slice interval for 0/1 scores with one epoch whose one-sided error holds
  near the ceiling too: Tango's (1998) score interval for the difference of paired proportions,
  each end found by bisection. Not part of evalkit: plugged in through ``gap_fn``, it shows what the
  Holm layer gives when the interval under it is accurate (the kind of interval issue 16 asks of
  evalkit.stats.paired).
* :func:`cross_fit` — the alternative evalkit does *not* use to measure the blend: K-fold
  cross-fitting (each fold routed by the rule selected on the other K - 1 folds, pooled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from evalkit.stats import PairedGap, z_value
from evalkit.stats.blend import BlendEstimate, measure_routing
from evalkit.stats.selection import select_slices
from evalkit.stats.slicing import BlendData, Slicing


def _tango_z(b: int, c: int, n: int, d0: float) -> float:
    """Tango's (1998) score statistic for H0: p10 - p01 = d0 (b closed-only, c open-only, n pairs)."""
    a_, b_, c_ = 2 * n, -b - c + (2 * n - b + c) * d0, -c * d0 * (1 - d0)
    q = (math.sqrt(max(b_ * b_ - 4 * a_ * c_, 0.0)) - b_) / (2 * a_)
    var = n * (2 * q + d0 * (1 - d0))
    return (b - c - n * d0) / math.sqrt(var) if var > 0 else (-math.inf if b - c < n * d0 else math.inf)


def tango_gap(closed: np.ndarray, open_: np.ndarray, *, confidence: float, **_: object) -> PairedGap:
    """Tango's score interval for closed − open on paired 0/1 values (the ``paired_gap`` signature)."""
    n = int(closed.size)
    b, c = int(np.sum((closed == 1) & (open_ == 0))), int(np.sum((closed == 0) & (open_ == 1)))
    z, d = z_value(confidence), (b - c) / n

    def root(lo: float, hi: float, target: float) -> float:
        """Where the (decreasing) statistic crosses ``target``, by bisection."""
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _tango_z(b, c, n, mid) > target else (lo, mid)
        return (lo + hi) / 2

    high, low = root(d, 1.0 - 1e-12, -z), root(-1.0 + 1e-12, d, z)
    return PairedGap(
        n, float(closed.mean()), float(open_.mean()), d, low, high, None, "Tango score", b, c, n_examples=n
    )


def cross_fit(
    data: BlendData, cuts: Sequence[Slicing], folds: int, *, max_gap: float, **kw: Any
) -> BlendEstimate:
    """Each of ``folds`` folds routed by the rule selected on the others, measured pooled over every example."""
    n = data.n_examples
    fold = np.empty(n, dtype=np.int64)
    fold[np.random.default_rng(kw["seed"]).permutation(n)] = np.arange(n) % folds
    routed = np.zeros(n, dtype=bool)
    for f in range(folds):
        sel = select_slices(data, cuts, max_gap=max_gap, examples=fold != f, describe=False, **kw)
        routed |= (fold == f) & sel.choice.routed(cuts)
    return measure_routing(data, routed, name="cross-fitted", **kw)
