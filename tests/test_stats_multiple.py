"""evalkit.stats.multiple: Holm's step-down correction, against hand-computed values."""

from __future__ import annotations

import pytest

from evalkit.stats import holm


@pytest.mark.parametrize(
    ("ps", "expected"),
    [
        ([], []),
        ([0.03], [0.03]),
        # sorted 0.01, 0.03, 0.04, 0.5 -> 4*0.01, max(.04, 3*.03), max(.09, 2*.04), max(.09, .5)
        ([0.01, 0.04, 0.03, 0.5], [0.04, 0.09, 0.09, 0.5]),
        ([0.01, 0.04, None, 0.03, 0.5], [0.04, 0.09, None, 0.09, 0.5]),  # None is not a test
        ([0.4, 0.4, 0.4], [1.0, 1.0, 1.0]),  # capped at 1
        ([0.02, 0.02], [0.04, 0.04]),  # ties
        ([None, None], [None, None]),
    ],
)
def test_holm(ps: list[float | None], expected: list[float | None]) -> None:
    got = holm(ps)
    assert [None if g is None else round(g, 12) for g in got] == expected


def test_holm_is_never_below_the_raw_p_and_keeps_the_order() -> None:
    ps = [0.001, 0.2, 0.04, 0.012, 0.7, 0.03]
    adj = holm(ps)
    assert all(a is not None and a >= p for a, p in zip(adj, ps, strict=True))
    pairs = sorted(zip(ps, adj, strict=True))
    assert [a for _p, a in pairs] == sorted(a for _p, a in pairs)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_holm_rejects_non_probabilities(bad: float) -> None:
    with pytest.raises(ValueError):
        holm([0.1, bad])
