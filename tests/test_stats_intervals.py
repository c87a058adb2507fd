"""evalkit.stats: Wilson, bootstrap, paired gap, McNemar — against known values and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from evalkit.stats import (
    DEFAULT_RESAMPLES,
    bootstrap_interval,
    mcnemar_exact_p,
    mean_interval,
    paired_gap,
    quantiles,
    wilson_interval,
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


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (1, 0), (0, 5), (3, 3), (5, 2), (2, 9), (10, 25), (40, 41), (0, 30)]
)
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact_p(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mcnemar_rejects_negative() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact_p(-1, 2)


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
    ("closed", "open_", "gap", "closed_only", "open_only"),
    [
        ([1, 1, 1, 0], [0, 1, 0, 0], 0.5, 2, 0),  # closed better: positive
        ([0, 1, 0, 0], [1, 1, 1, 0], -0.5, 0, 2),  # open better: negative
        ([1, 0, 1, 0], [1, 0, 1, 0], 0.0, 0, 0),  # identical: no discordant pair
    ],
)
def test_paired_gap_sign_and_mcnemar(
    closed: list[int], open_: list[int], gap: float, closed_only: int, open_only: int
) -> None:
    g = paired_gap(closed, open_)
    assert g.gap == pytest.approx(gap)
    assert g.n_pairs == len(closed)
    assert g.discordant_closed_only == closed_only and g.discordant_open_only == open_only
    assert g.p_value == pytest.approx(mcnemar_exact_p(closed_only, open_only))
    assert g.low is not None and g.high is not None and g.low <= gap <= g.high
    assert (
        "McNemar" in g.method and "seed" in g.method and g.n_resamples is not None and g.n_resamples >= 10_000
    )


def test_paired_gap_no_discordant_pairs() -> None:
    g = paired_gap([1, 1, 0], [1, 1, 0])
    assert (g.gap, g.low, g.high, g.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_paired_gap_n_zero_and_mismatch() -> None:
    g = paired_gap([], [])
    assert g.n_pairs == 0 and g.gap is None and g.p_value is None and g.method == "no paired cells"
    with pytest.raises(ValueError):
        paired_gap([1, 0], [1])


def test_paired_gap_continuous_has_no_p_value_and_is_deterministic() -> None:
    rng = np.random.default_rng(5)
    c = rng.random(200)
    o = c - 0.1 + rng.normal(0, 0.05, 200)
    g1, g2 = paired_gap(c, o, seed=11), paired_gap(c, o, seed=11)
    assert g1 == g2
    assert g1.p_value is None and g1.discordant_closed_only is None
    assert g1.gap == pytest.approx(float(np.mean(c - o)))
    assert g1.low is not None and g1.high is not None and g1.low < 0.1 < g1.high


def test_paired_bootstrap_keeps_pairing() -> None:
    # Perfectly correlated pairs with a constant difference: the paired interval is a point.
    c = np.linspace(0, 1, 101)
    g = paired_gap(c, c - 0.05)
    assert g.low == pytest.approx(0.05) and g.high == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("values", "expected"), [([], [None, None]), ([2.0], [2.0, 2.0]), ([1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.8])]
)
def test_quantiles(values: list[float], expected: list[float | None]) -> None:
    assert quantiles(values, (0.5, 0.95)) == expected
