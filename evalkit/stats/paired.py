"""Closed minus open on the *same* examples: the gap, its interval and its test.

:func:`paired_gap` takes the two models' values cell by cell (``closed[i]`` and ``open_[i]`` are
the same sample and epoch) and, optionally, the example each cell belongs to (``clusters``).

* **Unit.** The unit of resampling and of the gap is the *example*: each example's cells are
  averaged first (over the epochs both models answered), then ``gap = mean_i (c_i - o_i)``. With
  one epoch this is the plain mean of the paired differences.
* **Interval.** A paired percentile bootstrap over examples (the pairing is kept because a
  resample draws whole examples with both models' values; with epochs it is a *cluster*
  bootstrap, so the k answers to one example are not counted as k independent observations).
  Vectorised (multinomial counts when the differences take few values), ``n_resamples`` (10,000
  by default) and a fixed recorded seed: the same data always give the same interval.
* **All differences equal** (e.g. no discordant pair): a bootstrap would give the point
  ``[d, d]``; instead the exact worst case of :func:`~evalkit.stats.intervals.all_equal_bounds`
  over differences in [-1, 1] (``±0.0092`` for 0 discordant pairs in 400; ``±0.071`` in 50).
* **Test.** Pass/fail scores, one epoch: McNemar's exact test (a binomial test of the
  discordant pairs against 1/2, identical to ``scipy.stats.binomtest``). Pass/fail with epochs:
  the clustered McNemar test of Durkalski et al. (2003), ``X² = (Σ_i (b_i - c_i))² / Σ_i (b_i -
  c_i)²`` on 1 degree of freedom, b_i / c_i the example's closed-only / open-only cells.
  Continuous scores: a paired t-test on the per-example differences.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as _sp

from evalkit.stats.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_RELIABLE_N,
    FloatArray,
    all_equal_bounds,
    as_array,
    bootstrap_means,
    cluster_means,
    is_binary,
    percentile_interval,
    z_value,
)

__all__ = [
    "PairedGap",
    "clustered_mcnemar_p",
    "mcnemar_exact_p",
    "paired_gap",
    "paired_t_p",
]


@dataclass(frozen=True, slots=True)
class PairedGap:
    """Closed minus open over the cells both have a value for."""

    n_pairs: int
    """Paired cells (sample, epoch)."""
    closed_mean: float | None
    open_mean: float | None
    gap: float | None
    """Mean over examples of (closed - open); positive means the closed model scored higher."""
    low: float | None
    high: float | None
    p_value: float | None
    """Two-sided p-value of "no difference" (``p_method`` says which test); ``None`` for n = 0."""
    method: str
    """Human-readable description, including the resample count and seed."""
    discordant_closed_only: int | None
    """0/1 scores: cells the closed model passed and the open model failed."""
    discordant_open_only: int | None
    """0/1 scores: cells the open model passed and the closed model failed."""
    seed: int | None = None
    n_resamples: int | None = None
    n_examples: int = 0
    """Examples (clusters) the gap is averaged over; equals ``n_pairs`` with one epoch."""
    p_method: str | None = None
    """``McNemar exact``, ``clustered McNemar`` or ``paired t-test``."""
    sd_diff: float | None = None
    """Standard deviation (ddof 0) of the per-example differences: for 0/1 scores with one epoch
    ``sqrt(p10 + p01 - (p10 - p01)^2)``. What :mod:`evalkit.stats.planning` sizes from."""
    all_equal: bool = False
    """Every per-example difference was the same: the interval is the exact worst case, not a bootstrap."""

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2.0

    @property
    def reliable(self) -> bool:
        """At least :data:`MIN_RELIABLE_N` examples: below that the interval is unreliable."""
        return self.n_examples >= MIN_RELIABLE_N


def mcnemar_exact_p(closed_only: int, open_only: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of the discordant pairs against 1/2.

    ``closed_only`` / ``open_only`` are the pairs only the closed / only the open model passed.
    With no discordant pair there is no evidence of a difference: p = 1.
    """
    if closed_only < 0 or open_only < 0:
        raise ValueError("discordant counts must be non-negative")
    n = closed_only + open_only
    if n == 0:
        return 1.0
    k = min(closed_only, open_only)
    return float(min(1.0, 2.0 * _sp.binom.cdf(k, n, 0.5)))


def clustered_mcnemar_p(closed: FloatArray, open_: FloatArray, clusters: npt.ArrayLike) -> float:
    """Durkalski et al. (2003) McNemar test for clustered 0/1 pairs (1 df chi-square); p = 1 with no discordance.

    With one pair per cluster the statistic is the (uncorrected) McNemar ``(b - c)² / (b + c)``.
    """
    keys = np.asarray(clusters)
    _u, inverse = np.unique(keys, return_inverse=True)
    diff = np.bincount(inverse, weights=(closed == 1.0) & (open_ == 0.0)) - np.bincount(
        inverse, weights=(closed == 0.0) & (open_ == 1.0)
    )
    denom = float(np.sum(diff * diff))
    if denom == 0.0:
        return 1.0
    stat = float(np.sum(diff)) ** 2 / denom
    return float(_sp.chi2.sf(stat, 1))


def paired_t_p(diffs: FloatArray) -> float | None:
    """Two-sided paired t-test of mean(diffs) = 0. All differences equal: 1 when they are 0, else
    the exact sign test ``2 * 0.5^n``. ``None`` below two values."""
    k = int(diffs.size)
    if k < 2:
        return None
    if np.all(diffs == diffs[0]):
        return 1.0 if diffs[0] == 0.0 else min(1.0, 2.0 * 0.5**k)
    sd = float(diffs.std(ddof=1))
    t = float(diffs.mean()) / (sd / math.sqrt(k))
    return float(2.0 * _sp.t.sf(abs(t), k - 1))


def paired_gap(
    closed: Iterable[float] | FloatArray,
    open_: Iterable[float] | FloatArray,
    *,
    clusters: npt.ArrayLike | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedGap:
    """Closed minus open on paired cells; ``clusters`` (one id per cell, e.g. the sample id) groups
    the epochs of one example so that they are averaged and resampled together."""
    c, o = as_array(closed), as_array(open_)
    if c.shape != o.shape:
        raise ValueError(f"paired values must have the same length ({c.size} != {o.size})")
    z_value(confidence)
    n = int(c.size)
    if n == 0:
        return PairedGap(0, None, None, None, None, None, None, "no paired cells", None, None)
    if clusters is not None:
        ids = np.asarray(clusters)
        if ids.shape[0] != n:
            raise ValueError(f"clusters must have one id per pair ({ids.shape[0]} != {n})")
        cm, counts = cluster_means(c, ids)
        om, _ = cluster_means(o, ids)
        clustered = bool(np.any(counts > 1))
    else:
        ids, cm, om, clustered = None, c, o, False
    diffs = cm - om
    k = int(diffs.size)
    gap = float(diffs.mean())
    all_equal = bool(np.all(diffs == diffs[0]))
    if all_equal:
        in_unit = bool(np.all((c >= 0.0) & (c <= 1.0) & (o >= 0.0) & (o <= 1.0)))
        low, high = all_equal_bounds(gap, k, confidence, lower=-1.0, upper=1.0) if in_unit else (gap, gap)
        method = f"every paired difference is {gap:g}: exact worst-case bound over {k} examples"
    else:
        means = bootstrap_means(diffs, n_resamples, np.random.default_rng(seed))
        low, high = percentile_interval(means, confidence)
        unit = "cluster bootstrap" if clustered else "paired bootstrap"
        method = f"{unit} over {k} examples, {n_resamples} resamples, seed {seed}"
        if clustered:
            method += " (epochs averaged within an example)"
    closed_only: int | None = None
    open_only: int | None = None
    if is_binary(c) and is_binary(o):
        closed_only = int(np.sum((c == 1.0) & (o == 0.0)))
        open_only = int(np.sum((c == 0.0) & (o == 1.0)))
        if clustered:
            assert ids is not None
            p: float | None = clustered_mcnemar_p(c, o, ids)
            p_method = "clustered McNemar"
        else:
            p = mcnemar_exact_p(closed_only, open_only)
            p_method = "McNemar exact"
    else:
        p = paired_t_p(diffs)
        p_method = "paired t-test"
    return PairedGap(
        n_pairs=n,
        closed_mean=float(cm.mean()),
        open_mean=float(om.mean()),
        gap=gap,
        low=low,
        high=high,
        p_value=p,
        method=f"{method}; {p_method}",
        discordant_closed_only=closed_only,
        discordant_open_only=open_only,
        seed=None if all_equal else seed,
        n_resamples=None if all_equal else n_resamples,
        n_examples=k,
        p_method=p_method,
        sd_diff=float(diffs.std()),
        all_equal=all_equal,
    )
