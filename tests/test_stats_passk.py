"""evalkit.stats.passk: the unbiased pass@k estimator against hand-computed values, and its summary."""

from __future__ import annotations

import math
from itertools import combinations

import pytest

from evalkit.stats.passk import pass_at_k, pass_at_k_summary, pass_at_k_table, problem_counts


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (5, 2, 1, 2 / 5),  # pass@1 is the pass rate
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (5, 2, 3, 1 - 1 / 10),  # 1 - C(3,3)/C(5,3)
        (5, 2, 4, 1.0),  # n - c < k: every draw of 4 holds a pass
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5) = 11/12
        (10, 0, 5, 0.0),
        (10, 10, 10, 1.0),
        (200, 13, 10, 1 - math.comb(187, 10) / math.comb(200, 10)),
    ],
)
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_the_chance_that_a_random_k_subset_holds_a_pass() -> None:
    answers = [1, 0, 0, 1, 0, 0, 0]  # n = 7, c = 2
    for k in range(1, 8):
        subsets = list(combinations(answers, k))
        brute = sum(1 for s in subsets if any(s)) / len(subsets)
        assert pass_at_k(7, 2, k) == pytest.approx(brute)


def test_pass_at_k_is_stable_for_large_n() -> None:
    # math.comb(100000, 500) overflows a float; the product form does not.
    value = pass_at_k(100_000, 5, 500)
    assert value == pytest.approx(1 - (1 - 500 / 100_000) ** 5, rel=1e-3)
    assert 0.0 < value < 1.0


@pytest.mark.parametrize(
    ("n", "c", "k"), [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6), (5, 2.0, 1), (True, 1, 1)]
)
def test_pass_at_k_rejects_impossible_counts(n: object, c: object, k: object) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)  # type: ignore[arg-type]


def test_problem_counts() -> None:
    cells = [("a", 1.0), ("a", 0.0), ("b", 0.0), ("a", 1.0), ("b", 0.0), ("c", 1.0)]
    assert problem_counts(cells) == {"a": (3, 2), "b": (2, 0), "c": (1, 1)}


def test_summary_averages_over_problems_with_a_bootstrap_interval() -> None:
    counts = {f"p{i}": (5, i % 6) for i in range(60)}  # c in 0..5
    s = pass_at_k_summary(counts, 2)
    expected = sum(pass_at_k(5, c, 2) for c in (i % 6 for i in range(60))) / 60
    assert s.estimate == pytest.approx(expected)
    assert s.method == "bootstrap" and s.n_problems == 60 and s.n_skipped == 0
    assert s.low is not None and s.high is not None and s.estimate is not None
    assert s.low < s.estimate < s.high
    assert pass_at_k_summary(counts, 2) == s  # same seed, same interval
    wider = pass_at_k_summary(dict(list(counts.items())[:12]), 2)
    assert wider.high - wider.low > s.high - s.low  # type: ignore[operator]


def test_summary_with_one_answer_each_is_the_wilson_interval() -> None:
    s = pass_at_k_summary([(1, 1)] * 30 + [(1, 0)] * 10, 1)
    assert s.method == "wilson" and s.estimate == pytest.approx(0.75)
    assert s.low == pytest.approx(0.5980, abs=1e-3) and s.high == pytest.approx(0.8581, abs=1e-3)


def test_summary_when_every_problem_is_the_same_is_not_a_point() -> None:
    s = pass_at_k_summary([(4, 4)] * 20, 2)
    assert s.method == "all equal" and s.estimate == 1.0 and s.high == 1.0
    assert s.low is not None and s.low < 1.0


def test_summary_skips_problems_with_fewer_than_k_answers() -> None:
    s = pass_at_k_summary({"a": (5, 1), "b": (2, 2), "c": (5, 0)}, 3)
    assert (s.n_problems, s.n_skipped) == (2, 1)
    assert s.estimate == pytest.approx((pass_at_k(5, 1, 3) + 0.0) / 2)
    empty = pass_at_k_summary({"b": (2, 2)}, 3)
    assert (empty.estimate, empty.low, empty.high, empty.method) == (None, None, None, "none")


def test_table_defaults_to_pass_at_1_and_the_largest_common_k() -> None:
    counts = {"a": (5, 1), "b": (3, 0), "c": (4, 4)}
    assert [p.k for p in pass_at_k_table(counts)] == [1, 3]
    assert [p.k for p in pass_at_k_table({"a": (1, 1)})] == [1]
    assert [p.k for p in pass_at_k_table(counts, [1, 2, 2, 5])] == [1, 2, 5]
    assert pass_at_k_table(counts)[0].estimate == pytest.approx((1 / 5 + 0 + 1) / 3)
