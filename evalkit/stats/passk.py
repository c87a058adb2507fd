"""pass@k: the chance that at least one of k answers to a problem passes, estimated from n >= k answers.

:func:`pass_at_k` is the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language
Models Trained on Code", section 2.1): with ``c`` of ``n`` answers passing,
``pass@k = 1 - C(n-c, k) / C(n, k)``, computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` so that no
binomial coefficient is ever formed (their numerically stable form). It is 1 when ``n - c < k``.

:func:`pass_at_k_summary` averages it over problems (each problem's answers are the ``epochs``
of one sample) with a percentile bootstrap interval over problems: the problems, not the answers,
are the independent units. With one answer per problem and k = 1 it is the Wilson interval of the
pass rate; when every problem has the same value, the exact worst-case bounds of
:func:`~evalkit.stats.intervals.all_equal_bounds`. Problems with fewer than ``k`` answers cannot
be estimated and are counted as skipped. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.stats.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    all_equal_bounds,
    bootstrap_means,
    percentile_interval,
    wilson_interval,
    z_value,
)

__all__ = ["PassAtK", "pass_at_k", "pass_at_k_summary", "pass_at_k_table", "problem_counts"]


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer (got {value!r})")
    return int(value)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` passing answers out of ``n`` (needs ``1 <= k <= n``)."""
    n, c, k = _count(n, "n"), _count(c, "c"), _count(k, "k")
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"need n >= 1 and 0 <= c <= n (got n={n}, c={c})")
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n={n} (got {k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


@dataclass(frozen=True, slots=True)
class PassAtK:
    """pass@k over problems, with its interval."""

    k: int
    estimate: float | None
    """Mean over problems of :func:`pass_at_k`; ``None`` when no problem has ``k`` answers."""
    low: float | None
    high: float | None
    n_problems: int
    """Problems with at least ``k`` answers (the ones averaged)."""
    n_skipped: int
    """Problems with fewer than ``k`` answers."""
    method: str
    """``wilson`` (k = 1, one answer each), ``bootstrap`` (over problems), ``all equal`` or ``none``."""
    confidence: float = DEFAULT_CONFIDENCE
    seed: int | None = None
    n_resamples: int | None = None


def problem_counts(cells: Iterable[tuple[Hashable, float]]) -> dict[Any, tuple[int, int]]:
    """``(problem id, value)`` pairs (one per answer; value 1.0 = pass) -> problem -> ``(n, c)``."""
    n: dict[Hashable, int] = defaultdict(int)
    c: dict[Hashable, int] = defaultdict(int)
    for key, value in cells:
        n[key] += 1
        if value == 1.0:
            c[key] += 1
    return {key: (n[key], c[key]) for key in n}


def pass_at_k_summary(
    counts: Mapping[Any, tuple[int, int]] | Iterable[tuple[int, int]],
    k: int,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PassAtK:
    """pass@k averaged over problems (``(n, c)`` per problem) with a bootstrap interval over problems."""
    z_value(confidence)
    k = _count(k, "k")
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    pairs = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
    usable = [(n, c) for n, c in pairs if n >= k]
    skipped = len(pairs) - len(usable)
    if not usable:
        return PassAtK(k, None, None, None, 0, skipped, "none", confidence)
    values = np.array([pass_at_k(n, c, k) for n, c in usable], dtype=np.float64)
    est = float(values.mean())
    m = int(values.size)
    if k == 1 and all(n == 1 for n, _ in usable):
        w = wilson_interval(float(values.sum()), m, confidence)
        return PassAtK(k, est, w.low, w.high, m, skipped, "wilson", confidence)
    if np.all(values == values[0]):
        low, high = all_equal_bounds(est, m, confidence, lower=0.0, upper=1.0)
        return PassAtK(k, est, low, high, m, skipped, "all equal", confidence)
    means = bootstrap_means(values, n_resamples, np.random.default_rng(seed))
    low, high = percentile_interval(means, confidence)
    return PassAtK(k, est, low, high, m, skipped, "bootstrap", confidence, seed, n_resamples)


def pass_at_k_table(
    counts: Mapping[Any, tuple[int, int]],
    ks: Iterable[int] | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> list[PassAtK]:
    """pass@k for each k of ``ks`` (default: 1 and the largest k every problem allows, i.e. the
    fewest answers any problem has, when that is more than 1)."""
    if ks is None:
        fewest = min((n for n, _ in counts.values()), default=0)
        ks = [1, fewest] if fewest > 1 else [1]
    return [
        pass_at_k_summary(counts, k, confidence=confidence, n_resamples=n_resamples, seed=seed)
        for k in dict.fromkeys(ks)
    ]
