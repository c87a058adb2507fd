"""evalkit.stats.intervals: Wilson, bootstrap, cluster bootstrap, the all-equal bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from evalkit.stats import (
    DEFAULT_RESAMPLES,
    all_equal_bounds,
    bootstrap_interval,
    cluster_means,
    mean_interval,
    quantiles,
    wilson_interval,
    z_value,
)


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I (Wilson, 95%).
@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (8, 10, 0.4902, 0.9433),
        (10, 10, 0.7225, 1.0),
        (0, 10, 0.0, 0.2775),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    iv = wilson_interval(k, n)
    assert iv.estimate == pytest.approx(k / n)
    assert iv.low == pytest.approx(low, abs=1e-4)
    assert iv.high == pytest.approx(high, abs=1e-4)
    assert iv.method == "wilson" and iv.n == n


def test_wilson_n_zero_and_bad_input() -> None:
    iv = wilson_interval(0, 0)
    assert (iv.estimate, iv.low, iv.high, iv.n, iv.method) == (None, None, None, 0, "none")
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    with pytest.raises(ValueError):
        wilson_interval(1, 3, confidence=1.5)


@pytest.mark.parametrize(
    ("values", "method"),
    [([1, 0, 1, 1], "wilson"), ([0.0, 0.0], "wilson"), ([0.5, 1.0, 0.25], "bootstrap"), ([], "none")],
)
def test_mean_interval_picks_method(values: list[float], method: str) -> None:
    assert mean_interval(values).method == method


@pytest.mark.parametrize("size", [50, 300])  # 50 distinct-ish -> multinomial path; 300 -> index path
def test_bootstrap_is_deterministic_with_seed(size: int) -> None:
    rng = np.random.default_rng(1)
    values = rng.random(size)
    a = bootstrap_interval(values, seed=7)
    b = bootstrap_interval(values, seed=7)
    c = bootstrap_interval(values, seed=8)
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)
    assert a.seed == 7 and a.n_resamples == DEFAULT_RESAMPLES
    assert a.low is not None and a.high is not None and a.estimate is not None
    assert a.low < a.estimate < a.high


def test_bootstrap_close_to_normal_theory() -> None:
    values = np.random.default_rng(3).normal(0.5, 0.1, size=400)
    iv = bootstrap_interval(values)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert iv.low is not None and iv.high is not None
    assert (iv.high - iv.low) / 2 == pytest.approx(half, rel=0.1)


@pytest.mark.parametrize(
    ("values", "expected"), [([], (None, None, None)), ([0.3, 0.3, 0.3], (0.3, 0.3, 0.3))]
)
def test_bootstrap_edge_cases(values: list[float], expected: tuple[float | None, ...]) -> None:
    iv = bootstrap_interval(values)
    assert (iv.estimate, iv.low, iv.high) == expected
    assert iv.n == len(values)


@pytest.mark.parametrize(
    ("values", "expected"), [([], [None, None]), ([2.0], [2.0, 2.0]), ([1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.8])]
)
def test_quantiles(values: list[float], expected: list[float | None]) -> None:
    assert quantiles(values, (0.5, 0.95)) == expected


def test_z_value() -> None:
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.9) == pytest.approx(1.644854, abs=1e-6)
    with pytest.raises(ValueError):
        z_value(1.0)


@pytest.mark.parametrize(
    ("value", "n", "lower", "upper", "expected"),
    [
        # 0 of 50 differ: u = 1 - 0.025^(1/50) = 0.0711; both ends move by u (worst case: all to +1 or -1)
        (0.0, 50, -1.0, 1.0, (-0.07112, 0.07112)),
        (0.0, 400, -1.0, 1.0, (-0.00918, 0.00918)),
        # all 30 pass: the lower end is the exact one-sided Clopper-Pearson bound 0.025^(1/30)
        (1.0, 30, 0.0, 1.0, (0.025 ** (1 / 30), 1.0)),
        (1.0, 20, -1.0, 1.0, (1 - 2 * (1 - 0.025 ** (1 / 20)), 1.0)),
    ],
)
def test_all_equal_bounds(
    value: float, n: int, lower: float, upper: float, expected: tuple[float, float]
) -> None:
    low, high = all_equal_bounds(value, n, 0.95, lower=lower, upper=upper)
    assert (low, high) == pytest.approx(expected, abs=1e-5)
    # Clopper-Pearson for 0 successes of n at 97.5 % one-sided equals u
    u = 1 - 0.025 ** (1 / n)
    assert binomtest(0, n).proportion_ci(0.95, method="exact").high == pytest.approx(u, rel=1e-6)


def test_cluster_means_keep_first_appearance_order() -> None:
    means, counts = cluster_means(np.array([1.0, 0.0, 1.0, 1.0, 0.0]), ["b", "a", "b", "c", "a"])
    assert means.tolist() == [1.0, 0.0, 1.0] and counts.tolist() == [2, 2, 1]


@pytest.mark.parametrize(
    ("values", "clusters", "method", "estimate", "n_clusters"),
    [
        ([1, 0, 1, 1], None, "wilson", 0.75, None),
        ([1, 0, 1, 1], ["a", "b", "c", "d"], "wilson", 0.75, None),  # no repeats: Wilson
        ([1, 0, 1, 1, 0, 0], ["a", "a", "b", "b", "c", "c"], "cluster bootstrap", 0.5, 3),
        ([1, 1, 1, 1], ["a", "a", "b", "b"], "all equal", 1.0, 2),
        # unequal cluster sizes: the mean of the example means, not of the cells
        ([1, 1, 1, 0], ["a", "a", "a", "b"], "cluster bootstrap", 0.5, 2),
    ],
)
def test_mean_interval_with_clusters(
    values: list[float], clusters: list[str] | None, method: str, estimate: float, n_clusters: int | None
) -> None:
    iv = mean_interval(values, clusters=clusters)
    assert iv.method == method and iv.estimate == pytest.approx(estimate) and iv.n_clusters == n_clusters
    assert iv.n == len(values)
    assert iv.low is not None and iv.high is not None and iv.low <= estimate <= iv.high


def test_cluster_bootstrap_is_wider_than_treating_epochs_as_independent() -> None:
    # 200 examples x 5 epochs, each example either always passed or always failed:
    # 1,000 cells carry the information of 200 examples.
    rng = np.random.default_rng(4)
    per_example = (rng.random(200) < 0.6).astype(float)
    values = np.repeat(per_example, 5)
    clusters = np.repeat(np.arange(200), 5)
    naive = mean_interval(values)
    clustered = mean_interval(values, clusters=clusters)
    assert naive.low is not None and naive.high is not None
    assert clustered.low is not None and clustered.high is not None
    ratio = (clustered.high - clustered.low) / (naive.high - naive.low)
    assert ratio == pytest.approx(np.sqrt(5), rel=0.1)
