"""evalkit.stats.planning: the half-width now and the examples needed to exclude the margin."""

from __future__ import annotations

import math

import pytest

from evalkit.stats import all_equal_bounds, examples_needed, plan_sample_size
from evalkit.stats.planning import nice_count, pp

Z = 1.959963984540054
Z80 = 0.8416212335729143


@pytest.mark.parametrize(
    ("gap", "sd", "margin", "power", "expected"),
    [
        # the paired-proportions formula: p10 = 0.12, p01 = 0.09 -> s^2 = 0.21 - 0.03^2
        (0.03, math.sqrt(0.21 - 0.03**2), 0.05, 0.5, math.ceil(Z**2 * (0.21 - 0.0009) / 0.02**2)),
        (0.03, math.sqrt(0.21 - 0.03**2), 0.05, 0.8, math.ceil((Z + Z80) ** 2 * (0.21 - 0.0009) / 0.02**2)),
        # true gap 0, p10 = p01 = 0.05: n = z^2 * 0.1 / delta^2
        (0.0, math.sqrt(0.1), 0.03, 0.5, math.ceil(Z**2 * 0.1 / 0.03**2)),
        # an open model observed better (d < 0) needs fewer: delta - d, not delta - |d|
        (-0.01, math.sqrt(0.1), 0.03, 0.5, math.ceil(Z**2 * 0.1 / 0.04**2)),
        # the stay side: gap above the margin
        (0.08, 0.4, 0.05, 0.5, math.ceil(Z**2 * 0.16 / 0.03**2)),
        (0.05, 0.4, 0.05, 0.5, None),  # the gap is the margin: nothing decides
    ],
)
def test_examples_needed(gap: float, sd: float, margin: float, power: float, expected: int | None) -> None:
    assert examples_needed(gap, sd, margin, power=power) == expected


def test_examples_needed_without_discordance_uses_the_exact_bound() -> None:
    n = examples_needed(0.0, 0.0, 0.03)
    assert n == 122  # ~ 3.69 / 0.03
    assert all_equal_bounds(0.0, n, 0.95, lower=-1, upper=1)[1] <= 0.03
    assert all_equal_bounds(0.0, n - 1, 0.95, lower=-1, upper=1)[1] > 0.03
    assert examples_needed(0.5, 0.0, 0.03) is not None  # all pairs one way: the stay side


def test_examples_needed_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        examples_needed(0.0, -1.0, 0.03)
    with pytest.raises(ValueError):
        examples_needed(0.0, 0.1, 0.03, power=1.0)


def test_the_issue_example_text() -> None:
    # 400 examples, interval ±4.1 pp, gap 0.6 pp, s = 0.041 * 20 / 1.96
    s = 0.041 * 20 / Z
    plan = plan_sample_size(
        n_examples=400, gap=0.006, sd_diff=s, low=0.006 - 0.041, high=0.006 + 0.041, margin=0.03
    )
    assert not plan.decided and plan.side == "below"
    assert plan.needed == math.ceil((0.041 * 20 / 0.024) ** 2)
    assert plan.text().startswith(
        "with 400 examples the gap interval is ±4.1 pp; to rule out a 3 pp gap you need about 1,170"
    )
    assert "for an 80% chance" in plan.text()


@pytest.mark.parametrize(
    ("gap", "low", "high", "fragment"),
    [
        (0.0, -0.02, 0.02, "already excludes 3 pp"),
        (0.1, 0.06, 0.14, "already excludes 3 pp"),
        (0.06, 0.0, 0.12, "to show the gap exceeds 3 pp you need about"),
        (0.03, -0.01, 0.07, "more examples alone will not decide"),
    ],
)
def test_plan_text(gap: float, low: float, high: float, fragment: str) -> None:
    plan = plan_sample_size(n_examples=200, gap=gap, sd_diff=0.3, low=low, high=high, margin=0.03)
    assert fragment in plan.text()


def test_plan_never_says_enough_before_the_interval_decides() -> None:
    # the normal approximation says 150 would do, but the reported interval still contains the margin
    plan = plan_sample_size(n_examples=200, gap=0.0, sd_diff=0.1, low=-0.031, high=0.031, margin=0.03)
    assert plan.needed == 201 and not plan.decided


@pytest.mark.parametrize(
    ("n", "text"),
    [(7, "7"), (99, "99"), (101, "110"), (1147, "1,150"), (9_999, "10,000"), (23_401, "23,500")],
)
def test_nice_count(n: int, text: str) -> None:
    assert nice_count(n) == text


@pytest.mark.parametrize(
    ("x", "text"), [(0.041, "4.1 pp"), (0.03, "3 pp"), (0.0504, "5 pp"), (0.125, "12.5 pp")]
)
def test_pp(x: float, text: str) -> None:
    assert pp(x) == text
