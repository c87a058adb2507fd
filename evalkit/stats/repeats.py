"""Repeats (``epochs: k``): how often a model changes its verdict on the same example.

The flip rate of a model is the share of examples, among those answered at least twice, whose
values are not all the same across epochs — for a pass/fail scorer, the examples it passes in one
epoch and fails in another. An errored epoch counts as it counts in the means (0 under
``count_as_wrong``, absent under ``exclude``). A high flip rate means one run's verdict on an
example is partly luck: the cluster bootstrap of the gap accounts for it, the model table shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evalkit.stats.intervals import FloatArray, as_array

__all__ = ["FlipRate", "flip_rate"]


@dataclass(frozen=True, slots=True)
class FlipRate:
    rate: float | None
    """flipped / examples; ``None`` when no example was answered twice."""
    examples: int
    """Examples with at least two values."""
    flipped: int


def flip_rate(values: Iterable[float] | FloatArray, clusters: npt.ArrayLike) -> FlipRate:
    """Share of clusters (examples) with at least two values whose values differ."""
    arr = as_array(values)
    keys = np.asarray(clusters)
    if keys.shape[0] != arr.size:
        raise ValueError(f"clusters must have one id per value ({keys.shape[0]} != {arr.size})")
    if arr.size == 0:
        return FlipRate(None, 0, 0)
    _u, inverse = np.unique(keys, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    sorted_vals, sorted_inv = arr[order], inverse[order]
    starts = np.flatnonzero(np.r_[True, sorted_inv[1:] != sorted_inv[:-1]])
    sizes = np.diff(np.r_[starts, sorted_inv.size])
    hi = np.maximum.reduceat(sorted_vals, starts)
    lo = np.minimum.reduceat(sorted_vals, starts)
    repeated = sizes >= 2
    examples = int(repeated.sum())
    flipped = int(np.sum(repeated & (hi != lo)))
    return FlipRate(flipped / examples if examples else None, examples, flipped)
