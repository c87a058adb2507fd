"""evalkit.stats.repeats: the flip rate across epochs."""

from __future__ import annotations

import pytest

from evalkit.stats import flip_rate


@pytest.mark.parametrize(
    ("values", "clusters", "rate", "examples", "flipped"),
    [
        ([], [], None, 0, 0),
        ([1, 0, 1], ["a", "b", "c"], None, 0, 0),  # one epoch: no flip rate
        ([1, 1, 0, 0], ["a", "a", "b", "b"], 0.0, 2, 0),
        ([1, 0, 1, 1, 0, 0], ["a", "a", "b", "b", "c", "c"], 1 / 3, 3, 1),
        ([1, 1, 1, 0, 1], ["a", "b", "a", "a", "c"], 1.0, 1, 1),  # interleaved epochs; c answered once
        ([0.5, 0.5, 0.25, 0.75], ["a", "a", "b", "b"], 0.5, 2, 1),  # continuous: any change
    ],
)
def test_flip_rate(
    values: list[float], clusters: list[str], rate: float | None, examples: int, flipped: int
) -> None:
    fr = flip_rate(values, clusters)
    assert (fr.rate, fr.examples, fr.flipped) == (
        pytest.approx(rate) if rate is not None else None,
        examples,
        flipped,
    )


def test_flip_rate_needs_one_cluster_per_value() -> None:
    with pytest.raises(ValueError):
        flip_rate([1, 0], ["a"])
