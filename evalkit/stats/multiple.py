"""Multiple comparisons: Holm's step-down correction.

When a run reports several gaps (each open model on each slice) or ``evalkit compare`` covers
several tasks, some p-values fall below 0.05 by chance alone. :func:`holm` adjusts a family of
p-values so that the chance of *any* false "there is a difference" stays at most alpha, under any
dependence between the tests (Holm 1979). Sort the m p-values ascending ``p_(1) <= ... <= p_(m)``;
the adjusted value of the j-th is ``max_{i <= j} min(1, (m - i + 1) p_(i))``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["holm"]


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values in the input order; ``None`` entries are not tests (left ``None``, not counted in m)."""
    idx = [i for i, p in enumerate(p_values) if p is not None]
    for i in idx:
        p = p_values[i]
        assert p is not None
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must be in [0, 1], got {p}")
    m = len(idx)
    order = sorted(idx, key=lambda i: (p_values[i], i))
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        p = p_values[i]
        assert p is not None
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
