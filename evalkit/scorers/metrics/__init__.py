"""Scorer-specific summary metrics, streamed from ``(expected, Score)`` pairs.

:func:`make_accumulator` gives one :class:`Accumulator` per model x scorer: ``add(expected,
score)`` for each verdict, then ``finish()`` for a JSON-serialisable dict. It reads only what
the ledger keeps (the sample's ``expected``, the verdict's ``label``, ``answer`` and ``meta``),
never the explanation text, and keeps only counts, so a finished run folder is enough and memory
does not grow with the ledger. :func:`extra_metrics` is the one-shot form (``evalkit score``).

Every family gives ``kind``, ``n`` and ``class_counts``; then, by scorer family:

* ``exact_match`` with ``labels``: :mod:`~evalkit.scorers.metrics.classification`;
* ``json_valid``: :mod:`~evalkit.scorers.metrics.json_metrics`;
* ``refusal``: :mod:`~evalkit.scorers.metrics.refusals`;
* anything else (``exact_match`` without labels, unknown scorers): the counts alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evalkit.scorers.metrics.base import Accumulator
from evalkit.scorers.metrics.classification import INVALID, ClassificationAccumulator, top_confusions
from evalkit.scorers.metrics.json_metrics import (
    JsonAccumulator,
    response_format_of,
    structured_output_check,
)
from evalkit.scorers.metrics.refusals import RefusalAccumulator
from evalkit.types import Score

__all__ = [
    "INVALID",
    "Accumulator",
    "ClassificationAccumulator",
    "JsonAccumulator",
    "RefusalAccumulator",
    "extra_metrics",
    "make_accumulator",
    "response_format_of",
    "structured_output_check",
    "top_confusions",
]


def make_accumulator(scorer_name: str, args: Mapping[str, Any] | None = None) -> Accumulator:
    """A fresh accumulator for scorer family ``scorer_name`` configured with ``args`` (run.json ``scorers[].args``)."""
    args = args or {}
    if scorer_name == "exact_match" and args.get("labels") is not None:
        return ClassificationAccumulator()
    if scorer_name == "json_valid":
        return JsonAccumulator()
    if scorer_name == "refusal":
        return RefusalAccumulator()
    return Accumulator()


def extra_metrics(
    scorer_name: str, args: Mapping[str, Any] | None, pairs: Iterable[tuple[Any, Score]]
) -> dict[str, Any]:
    """The metrics of one model's verdicts of scorer family ``scorer_name``, in one pass."""
    acc = make_accumulator(scorer_name, args)
    for expected, score in pairs:
        acc.add(expected, score)
    return acc.finish()
