"""evalkit.stats.paired: the paired gap, its (cluster) bootstrap interval and its tests, against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2, ttest_rel

from evalkit.stats import (
    DEFAULT_RESAMPLES,
    all_equal_bounds,
    clustered_mcnemar_p,
    mcnemar_exact_p,
    paired_gap,
    paired_t_p,
)


@pytest.mark.parametrize(
    ("b", "c"), [(0, 0), (1, 0), (0, 5), (3, 3), (5, 2), (2, 9), (10, 25), (40, 41), (0, 30), (120, 80)]
)
def test_mcnemar_matches_scipy_binomtest(b: int, c: int) -> None:
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact_p(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_mcnemar_rejects_negative() -> None:
    with pytest.raises(ValueError):
        mcnemar_exact_p(-1, 2)


@pytest.mark.parametrize(
    ("closed", "open_", "gap", "closed_only", "open_only"),
    [
        ([1, 1, 1, 0], [0, 1, 0, 0], 0.5, 2, 0),  # closed better: positive
        ([0, 1, 0, 0], [1, 1, 1, 0], -0.5, 0, 2),  # open better: negative
        ([1, 0, 1, 0, 1], [0, 0, 1, 1, 1], 0.0, 1, 1),  # balanced discordance
    ],
)
def test_paired_gap_sign_and_mcnemar(
    closed: list[int], open_: list[int], gap: float, closed_only: int, open_only: int
) -> None:
    g = paired_gap(closed, open_)
    assert g.gap == pytest.approx(gap)
    assert g.n_pairs == g.n_examples == len(closed)
    assert g.discordant_closed_only == closed_only and g.discordant_open_only == open_only
    assert (
        g.p_value == pytest.approx(mcnemar_exact_p(closed_only, open_only)) and g.p_method == "McNemar exact"
    )
    assert g.low is not None and g.high is not None and g.low <= gap <= g.high
    assert "seed" in g.method and g.n_resamples == DEFAULT_RESAMPLES >= 10_000 and not g.all_equal


@pytest.mark.parametrize(
    ("closed", "open_", "gap"),
    [
        ([1] * 40, [1] * 40, 0.0),  # all correct
        ([0] * 40, [0] * 40, 0.0),  # all wrong
        ([1, 0] * 20, [1, 0] * 20, 0.0),  # no discordant pair
        ([1] * 40, [0] * 40, 1.0),  # every pair discordant, one way
    ],
    ids=["all-correct", "all-wrong", "no-discordant", "all-discordant"],
)
def test_every_difference_equal_gives_the_exact_worst_case(
    closed: list[int], open_: list[int], gap: float
) -> None:
    g = paired_gap(closed, open_)
    low, high = all_equal_bounds(gap, 40, 0.95, lower=-1.0, upper=1.0)
    assert g.all_equal and g.gap == gap and (g.low, g.high) == pytest.approx((low, high))
    assert g.low is not None and g.high is not None and g.low < g.high  # never a point
    assert g.seed is None and "worst-case" in g.method
    assert g.sd_diff == 0.0
    assert g.p_value == (1.0 if gap == 0 else pytest.approx(binomtest(40, 40).pvalue))


def test_no_discordance_in_few_examples_is_wide() -> None:
    g = paired_gap([1] * 50, [1] * 50)
    assert g.high == pytest.approx(1 - 0.025 ** (1 / 50))  # 0.071: cannot rule out a 3-point gap
    assert not paired_gap([1] * 29, [1] * 29).reliable and paired_gap([1] * 30, [1] * 30).reliable


def test_paired_gap_n_zero_and_mismatch() -> None:
    g = paired_gap([], [])
    assert g.n_pairs == 0 and g.gap is None and g.p_value is None and g.method == "no paired cells"
    assert g.half_width is None and not g.reliable
    with pytest.raises(ValueError):
        paired_gap([1, 0], [1])
    with pytest.raises(ValueError):
        paired_gap([1, 0], [1, 1], clusters=[1])


def test_paired_gap_continuous_uses_a_paired_t_test_and_is_deterministic() -> None:
    rng = np.random.default_rng(5)
    c = rng.random(200)
    o = np.clip(c - 0.1 + rng.normal(0, 0.05, 200), 0, 1)
    g1, g2 = paired_gap(c, o, seed=11), paired_gap(c, o, seed=11)
    assert g1 == g2 and g1.seed == 11
    assert g1.discordant_closed_only is None and g1.p_method == "paired t-test"
    assert g1.p_value == pytest.approx(ttest_rel(c, o).pvalue, rel=1e-9)
    assert g1.gap == pytest.approx(float(np.mean(c - o)))
    assert g1.low is not None and g1.high is not None and g1.low < g1.gap < g1.high
    assert g1.sd_diff == pytest.approx(float(np.std(c - o)))


def test_paired_bootstrap_keeps_pairing() -> None:
    # Strongly correlated pairs with a small, almost constant difference: the paired interval is
    # far narrower than the two models' spread.
    rng = np.random.default_rng(2)
    c = np.linspace(0.2, 1, 101)
    o = c - 0.05 + rng.normal(0, 0.005, 101)
    g = paired_gap(c, o)
    assert g.low is not None and g.high is not None
    assert g.high - g.low < 0.01 and g.low < 0.05 < g.high


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [([0.0, 0.0, 0.0], 1.0), ([0.5, 0.5, 0.5, 0.5], 2 * 0.5**4), ([0.2], None)],
)
def test_paired_t_p_degenerate(diffs: list[float], expected: float | None) -> None:
    assert paired_t_p(np.array(diffs)) == expected


# --- epochs: the cluster bootstrap and the clustered McNemar test -----------------------------


def test_clustered_mcnemar_reduces_to_mcnemar_without_repeats() -> None:
    c = np.array([1, 1, 1, 0, 0, 1, 1, 0], dtype=float)
    o = np.array([0, 0, 1, 1, 0, 0, 1, 0], dtype=float)
    b, cc = 3, 1  # closed-only, open-only
    expected = chi2.sf((b - cc) ** 2 / (b + cc), 1)
    assert clustered_mcnemar_p(c, o, np.arange(8)) == pytest.approx(expected)


def test_clustered_mcnemar_hand_computed() -> None:
    # three examples x 2 epochs; per example (closed-only - open-only): +2, 0, +1 -> X2 = 9 / 5
    c = np.array([1, 1, 1, 0, 1, 1], dtype=float)
    o = np.array([0, 0, 0, 1, 0, 1], dtype=float)
    clusters = [0, 0, 1, 1, 2, 2]
    assert clustered_mcnemar_p(c, o, clusters) == pytest.approx(chi2.sf(9 / 5, 1))
    assert clustered_mcnemar_p(c, c, clusters) == 1.0


def test_epochs_are_averaged_within_an_example() -> None:
    # 2 examples x 2 epochs: example a: closed 1,1 open 1,0 -> 0.5; example b: closed 0,1 open 0,1 -> 0
    c = [1, 1, 0, 1]
    o = [1, 0, 0, 1]
    g = paired_gap(c, o, clusters=["a", "a", "b", "b"])
    assert (g.n_pairs, g.n_examples, g.gap) == (4, 2, pytest.approx(0.25))
    assert g.p_method == "clustered McNemar" and "cluster bootstrap" in g.method
    assert (g.discordant_closed_only, g.discordant_open_only) == (1, 0)


def test_cluster_bootstrap_is_wider_when_epochs_repeat_the_same_verdict() -> None:
    rng = np.random.default_rng(9)
    c = (rng.random(300) < 0.8).astype(float)
    o = (rng.random(300) < 0.7).astype(float)
    k = 4
    cc, oo, ids = np.repeat(c, k), np.repeat(o, k), np.repeat(np.arange(300), k)
    one = paired_gap(c, o)
    naive = paired_gap(cc, oo)  # treats 1,200 cells as independent
    clustered = paired_gap(cc, oo, clusters=ids)
    assert clustered.gap == pytest.approx(one.gap)
    assert clustered.half_width == pytest.approx(one.half_width, rel=0.05)
    assert naive.half_width is not None and clustered.half_width is not None
    assert clustered.half_width > 1.8 * naive.half_width
