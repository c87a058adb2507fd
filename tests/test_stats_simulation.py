"""Simulation: the paired interval covers the true gap about 95 % of the time, with and without
epochs, and the sample-size formula means what docs/statistics.md says. A quick version of
bench/gap_simulation.py (fixed seeds, so deterministic; a few seconds)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import norm

from evalkit.analysis.gate import classify_gap
from evalkit.analysis.outcome import RuleStatus
from evalkit.stats import examples_needed, paired_gap

B = 1.5  # weight of the shared per-example difficulty z: correlates the two models
C = 1.0  # weight of each model's own per-example knowledge u: correlates a model's epochs
SCALE = math.sqrt(1 + B * B + C * C)


def _true(a: float) -> float:
    """P(pass) = E[Phi(a + B z + C u)], z, u ~ N(0, 1)."""
    return float(norm.cdf(a / SCALE))


def _data(
    rng: np.random.Generator, n: int, a_c: float, a_o: float, epochs: int = 1
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    z, u_c, u_o = (rng.normal(size=(n, 1)) for _ in range(3))
    c = (rng.random((n, epochs)) < norm.cdf(a_c + B * z + C * u_c)).astype(float)
    o = (rng.random((n, epochs)) < norm.cdf(a_o + B * z + C * u_o)).astype(float)
    return c.ravel(), o.ravel()


def _coverage(n_sets: int, n: int, a_c: float, a_o: float, epochs: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    truth = _true(a_c) - _true(a_o)
    clusters = np.repeat(np.arange(n), epochs)
    hits = 0
    for i in range(n_sets):
        c, o = _data(rng, n, a_c, a_o, epochs)
        g = paired_gap(c, o, clusters=clusters, n_resamples=2000, seed=i)
        assert g.low is not None and g.high is not None
        hits += g.low <= truth <= g.high
    return hits / n_sets


@pytest.mark.parametrize(
    ("epochs", "n_sets", "a_o"), [(1, 500, 0.3), (3, 300, 0.5)], ids=["one-epoch", "three-epochs"]
)
def test_paired_interval_covers_the_true_gap(epochs: int, n_sets: int, a_o: float) -> None:
    cov = _coverage(n_sets, 200, 0.6, a_o, epochs, seed=epochs)
    se = math.sqrt(0.95 * 0.05 / n_sets)
    assert abs(cov - 0.95) < 3 * se, cov


def test_sample_size_formula_against_simulation() -> None:
    """At N = examples_needed(true gap, true sd, margin) the interval's half-width is about
    margin - gap, so the upper bound lands below the margin about half of the time; at the 80 %
    power size, about 80 % of the time."""
    a_c, a_o, margin = 0.6, 0.5, 0.06
    # the true per-example SD of the difference, by simulation of a large population
    c, o = _data(np.random.default_rng(0), 400_000, a_c, a_o)
    gap, sd = _true(a_c) - _true(a_o), float(np.std(c - o))
    rng = np.random.default_rng(11)
    for power, low, high in ((0.5, 0.41, 0.59), (0.8, 0.72, 0.88)):
        n = examples_needed(gap, sd, margin, power=power)
        assert n is not None
        below, widths = 0, []
        for i in range(250):
            c, o = _data(rng, n, a_c, a_o)
            g = paired_gap(c, o, n_resamples=1000, seed=i)
            assert g.high is not None and g.half_width is not None
            below += g.high <= margin
            widths.append(g.half_width)
        assert low < below / 250 < high, (power, n, below / 250)
        if power == 0.5:
            assert float(np.mean(widths)) == pytest.approx(margin - gap, rel=0.05)


def test_gate_rarely_migrates_at_the_margin() -> None:
    """True gap exactly at the margin: a false migrate needs the upper bound below the margin,
    about 2.5 % of the time (one side of a 95 % interval)."""
    a_c = 0.6
    a_o = SCALE * norm.ppf(_true(a_c) - 0.05)  # true gap 0.05
    rng = np.random.default_rng(5)
    migrate = 0
    for i in range(400):
        c, o = _data(rng, 300, a_c, a_o)
        g = paired_gap(c, o, n_resamples=1000, seed=i)
        assert g.low is not None and g.high is not None
        migrate += classify_gap(g.low, g.high, 0.05, g.n_examples) is RuleStatus.PASS
    assert migrate / 400 < 0.05
