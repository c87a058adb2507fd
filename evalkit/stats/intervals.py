"""Intervals and paired tests: the numbers behind every score and gap in a report.

* :func:`wilson_interval` — the Wilson score interval for a pass/fail (0/1) mean. Unlike the
  normal approximation it stays inside [0, 1] and behaves at 0/n and n/n.
* :func:`bootstrap_interval` — a percentile bootstrap interval for the mean of continuous
  scores, vectorised with numpy and reproducible from its recorded seed.
* :func:`mean_interval` — picks one of the two: Wilson when every value is 0 or 1.
* :func:`paired_gap` — closed minus open on the same cells: the mean of the paired
  differences, a paired bootstrap interval (resampling cells, so the pairing is kept) and, for
  0/1 scores, McNemar's exact test (:func:`mcnemar_exact_p`) on the discordant pairs.

Every function accepts n = 0 and returns ``None`` estimates rather than raising or NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as _sp

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "Interval",
    "PairedGap",
    "bootstrap_interval",
    "bootstrap_means",
    "is_binary",
    "mcnemar_exact_p",
    "mean_interval",
    "paired_gap",
    "quantiles",
    "wilson_interval",
]

DEFAULT_SEED = 20261122
"""The bootstrap seed used unless one is given; recorded next to every interval that used it."""
DEFAULT_RESAMPLES = 10_000
"""Bootstrap resamples (at least 10,000 for the paired gap)."""
DEFAULT_CONFIDENCE = 0.95

_MAX_UNIQUE_FOR_MULTINOMIAL = 64
_CHUNK_ELEMENTS = 1_000_000  # resamples x n indices drawn at once in the general bootstrap (~4 MB)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean with its confidence interval."""

    estimate: float | None
    """The mean; ``None`` when n = 0."""
    low: float | None
    high: float | None
    n: int
    method: str
    """``wilson``, ``bootstrap`` or ``none`` (n = 0)."""
    seed: int | None = None
    """The bootstrap seed, when the method used one."""
    n_resamples: int | None = None


@dataclass(frozen=True, slots=True)
class PairedGap:
    """Closed minus open over the cells both have a value for."""

    n_pairs: int
    closed_mean: float | None
    open_mean: float | None
    gap: float | None
    """Mean of (closed - open); positive means the closed model scored higher."""
    low: float | None
    high: float | None
    p_value: float | None
    """McNemar's exact p-value for 0/1 scores; ``None`` for continuous scores or n = 0."""
    method: str
    """Human-readable description, including the resample count and seed."""
    discordant_closed_only: int | None
    """0/1 scores: cells the closed model passed and the open model failed."""
    discordant_open_only: int | None
    """0/1 scores: cells the open model passed and the closed model failed."""
    seed: int | None = None
    n_resamples: int | None = None


def _as_array(values: Iterable[float] | FloatArray) -> FloatArray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)


def is_binary(values: FloatArray) -> bool:
    """True when every value is exactly 0 or 1 (a pass/fail scorer)."""
    return bool(np.all((values == 0.0) | (values == 1.0)))


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(_sp.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def wilson_interval(successes: float, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for ``successes`` passes out of ``n``."""
    if n <= 0:
        return Interval(None, None, None, 0, "none")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    z = _z(confidence)
    p = successes / n
    z2n = z * z / n
    denom = 1.0 + z2n
    centre = (p + z2n / 2.0) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # exact endpoints at 0/n and n/n (avoid 1e-17 noise)
    if successes == 0:
        low = 0.0
    if successes == n:
        high = 1.0
    return Interval(p, low, high, n, "wilson")


def bootstrap_means(values: FloatArray, n_resamples: int, rng: np.random.Generator) -> FloatArray:
    """Means of ``n_resamples`` resamples (with replacement) of ``values``, vectorised.

    Few distinct values (0/1 scores, paired differences in {-1, 0, 1}) are resampled exactly
    through multinomial counts, in O(n_resamples); otherwise indices are drawn in chunks so the
    memory stays bounded whatever n is.
    """
    n = values.size
    uniq, counts = np.unique(values, return_counts=True)
    if uniq.size <= _MAX_UNIQUE_FOR_MULTINOMIAL:
        draws = rng.multinomial(n, counts / n, size=n_resamples)
        return np.asarray(draws @ uniq / n, dtype=np.float64)
    out = np.empty(n_resamples, dtype=np.float64)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n), dtype=np.int32 if n < 2**31 else np.int64)
        out[start:stop] = np.take(values, idx).sum(axis=1) / n
    return out


def _percentiles(means: FloatArray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def bootstrap_interval(
    values: Iterable[float] | FloatArray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval for the mean of ``values`` (same seed, same interval)."""
    arr = _as_array(values)
    _z(confidence)
    if arr.size == 0:
        return Interval(None, None, None, 0, "none")
    mean = float(arr.mean())
    if np.all(arr == arr[0]):
        return Interval(mean, mean, mean, int(arr.size), "bootstrap", seed, n_resamples)
    means = bootstrap_means(arr, n_resamples, np.random.default_rng(seed))
    low, high = _percentiles(means, confidence)
    return Interval(mean, low, high, int(arr.size), "bootstrap", seed, n_resamples)


def mean_interval(
    values: Iterable[float] | FloatArray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Wilson for 0/1 values, a bootstrap interval otherwise."""
    arr = _as_array(values)
    if arr.size == 0:
        return Interval(None, None, None, 0, "none")
    if is_binary(arr):
        return wilson_interval(float(arr.sum()), int(arr.size), confidence)
    return bootstrap_interval(arr, confidence=confidence, n_resamples=n_resamples, seed=seed)


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


def paired_gap(
    closed: Iterable[float] | FloatArray,
    open_: Iterable[float] | FloatArray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedGap:
    """Closed minus open on paired cells (``closed[i]`` and ``open_[i]`` are the same sample and epoch)."""
    c, o = _as_array(closed), _as_array(open_)
    if c.shape != o.shape:
        raise ValueError(f"paired values must have the same length ({c.size} != {o.size})")
    _z(confidence)
    n = int(c.size)
    if n == 0:
        return PairedGap(0, None, None, None, None, None, None, "no paired cells", None, None)
    diffs = c - o
    gap = float(diffs.mean())
    boot = f"paired bootstrap, {n_resamples} resamples, seed {seed}"
    if np.all(diffs == diffs[0]):
        low = high = gap
    else:
        low, high = _percentiles(bootstrap_means(diffs, n_resamples, np.random.default_rng(seed)), confidence)
    p: float | None = None
    closed_only: int | None = None
    open_only: int | None = None
    if is_binary(c) and is_binary(o):
        closed_only = int(np.sum((c == 1.0) & (o == 0.0)))
        open_only = int(np.sum((c == 0.0) & (o == 1.0)))
        p = mcnemar_exact_p(closed_only, open_only)
        method = f"{boot}; McNemar exact"
    else:
        method = boot
    return PairedGap(
        n,
        float(c.mean()),
        float(o.mean()),
        gap,
        low,
        high,
        p,
        method,
        closed_only,
        open_only,
        seed,
        n_resamples,
    )


def quantiles(values: Iterable[float] | FloatArray, qs: Iterable[float]) -> list[float | None]:
    """Linear-interpolated quantiles (``qs`` in [0, 1]); ``None`` each when there are no values."""
    arr = _as_array(values)
    q = list(qs)
    if arr.size == 0:
        return [None] * len(q)
    return [float(v) for v in np.quantile(arr, q)]
