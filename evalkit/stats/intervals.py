"""Intervals for one model's mean: the numbers behind every score in a report.

* :func:`wilson_interval` — the Wilson score interval for a pass/fail (0/1) mean. Unlike the
  normal approximation it stays inside [0, 1] and behaves at 0/n and n/n.
* :func:`bootstrap_interval` — a percentile bootstrap interval for the mean of continuous
  scores, vectorised with numpy and reproducible from its recorded seed.
* :func:`mean_interval` — picks one: Wilson when every value is 0 or 1 and each example has one
  value; with repeats (``epochs > 1``) a *cluster* bootstrap over examples (each example's values
  averaged first), because the k answers to one example are not k independent observations.
* :func:`all_equal_bounds` — what to report when every value is the same (a bootstrap would
  collapse to a point): the exact worst case given that the share of examples that could differ
  is at most ``1 - (alpha/2)^(1/n)`` (the one-sided Clopper-Pearson bound for 0 of n).

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
    "MIN_RELIABLE_N",
    "FloatArray",
    "Interval",
    "all_equal_bounds",
    "as_array",
    "bootstrap_interval",
    "bootstrap_means",
    "cluster_means",
    "is_binary",
    "mean_interval",
    "percentile_interval",
    "quantiles",
    "wilson_interval",
    "z_value",
]

DEFAULT_SEED = 20261122
"""The bootstrap seed used unless one is given; recorded next to every interval that used it."""
DEFAULT_RESAMPLES = 10_000
"""Bootstrap resamples (at least 10,000 for the paired gap)."""
DEFAULT_CONFIDENCE = 0.95
MIN_RELIABLE_N = 30
"""Below this many examples an interval is flagged unreliable (report and gate say so)."""

_MAX_UNIQUE_FOR_MULTINOMIAL = 64
_CHUNK_ELEMENTS = 1_000_000  # resamples x n indices drawn at once in the general bootstrap (~4 MB)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean with its confidence interval."""

    estimate: float | None
    """The mean (over examples, each example's epochs averaged first); ``None`` when n = 0."""
    low: float | None
    high: float | None
    n: int
    """Values (cells) counted."""
    method: str
    """``wilson``, ``bootstrap``, ``cluster bootstrap``, ``all equal`` or ``none`` (n = 0)."""
    seed: int | None = None
    """The bootstrap seed, when the method used one."""
    n_resamples: int | None = None
    n_clusters: int | None = None
    """Examples (clusters of epochs) when the values were clustered."""


def as_array(values: Iterable[float] | FloatArray) -> FloatArray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)


def is_binary(values: FloatArray) -> bool:
    """True when every value is exactly 0 or 1 (a pass/fail scorer)."""
    return bool(np.all((values == 0.0) | (values == 1.0)))


def z_value(confidence: float) -> float:
    """The two-sided normal quantile z_{1-alpha/2} (1.96 at 95 %)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(_sp.norm.ppf(1.0 - (1.0 - confidence) / 2.0))


def wilson_interval(successes: float, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Wilson score interval for ``successes`` passes out of ``n``."""
    if n <= 0:
        return Interval(None, None, None, 0, "none")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n={n}, got {successes}")
    z = z_value(confidence)
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

    Few distinct values (0/1 scores, paired differences in {-1, 0, 1}, per-example means over k
    epochs) are resampled exactly through multinomial counts, in O(n_resamples); otherwise
    indices are drawn in chunks so the memory stays bounded whatever n is.
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


def percentile_interval(means: FloatArray, confidence: float) -> tuple[float, float]:
    """The (alpha/2, 1 - alpha/2) percentiles of bootstrap means."""
    alpha = 1.0 - confidence
    lo, hi = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def all_equal_bounds(
    value: float, n: int, confidence: float, *, lower: float, upper: float
) -> tuple[float, float]:
    """Interval for a mean when all ``n`` observed values equal ``value`` and values lie in [lower, upper].

    A bootstrap gives the point ``[value, value]``, which claims a certainty the data cannot
    give (no discordant pair among 50 examples does not prove the gap is 0). Instead: the share
    of the population that differs from ``value`` is at most ``u = 1 - (alpha/2)^(1/n)`` (exact
    one-sided bound for 0 of n), and the worst case puts all of it at the far end of the range:
    ``[value - u (value - lower), value + u (upper - value)]``.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    alpha = 1.0 - confidence
    u = 1.0 - (alpha / 2.0) ** (1.0 / n)
    return value - u * (value - lower), value + u * (upper - value)


def cluster_means(values: FloatArray, clusters: npt.ArrayLike) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Per-cluster means of ``values`` and the cluster sizes, clusters in order of first appearance."""
    keys = np.asarray(clusters)
    _uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    counts = np.bincount(inverse)
    sums = np.bincount(inverse, weights=values)
    order = np.argsort(first, kind="stable")
    return np.asarray(sums[order] / counts[order], dtype=np.float64), counts[order].astype(np.int64)


def bootstrap_interval(
    values: Iterable[float] | FloatArray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval for the mean of ``values`` (same seed, same interval)."""
    arr = as_array(values)
    z_value(confidence)
    if arr.size == 0:
        return Interval(None, None, None, 0, "none")
    mean = float(arr.mean())
    if np.all(arr == arr[0]):
        return Interval(mean, mean, mean, int(arr.size), "bootstrap", seed, n_resamples)
    means = bootstrap_means(arr, n_resamples, np.random.default_rng(seed))
    low, high = percentile_interval(means, confidence)
    return Interval(mean, low, high, int(arr.size), "bootstrap", seed, n_resamples)


def mean_interval(
    values: Iterable[float] | FloatArray,
    *,
    clusters: npt.ArrayLike | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Wilson for 0/1 values, a bootstrap interval otherwise; a cluster bootstrap when ``clusters``
    (one id per value, e.g. the sample id) repeats, i.e. when examples were asked several times."""
    arr = as_array(values)
    if arr.size == 0:
        return Interval(None, None, None, 0, "none")
    if clusters is not None:
        means, counts = cluster_means(arr, clusters)
        if means.size != arr.size:
            return _cluster_interval(arr, means, counts, confidence, n_resamples, seed)
    if is_binary(arr):
        return wilson_interval(float(arr.sum()), int(arr.size), confidence)
    return bootstrap_interval(arr, confidence=confidence, n_resamples=n_resamples, seed=seed)


def _cluster_interval(
    arr: FloatArray,
    means: FloatArray,
    counts: npt.NDArray[np.int64],
    confidence: float,
    n_resamples: int,
    seed: int,
) -> Interval:
    k = int(means.size)
    est = float(means.mean())
    if np.all(means == means[0]):
        if 0.0 <= est <= 1.0:
            low, high = all_equal_bounds(est, k, confidence, lower=0.0, upper=1.0)
        else:
            low = high = est
        return Interval(est, low, high, int(arr.size), "all equal", None, None, k)
    boot = bootstrap_means(means, n_resamples, np.random.default_rng(seed))
    low, high = percentile_interval(boot, confidence)
    return Interval(est, low, high, int(counts.sum()), "cluster bootstrap", seed, n_resamples, k)


def quantiles(values: Iterable[float] | FloatArray, qs: Iterable[float]) -> list[float | None]:
    """Linear-interpolated quantiles (``qs`` in [0, 1]); ``None`` each when there are no values."""
    arr = as_array(values)
    q = list(qs)
    if arr.size == 0:
        return [None] * len(q)
    return [float(v) for v in np.quantile(arr, q)]
