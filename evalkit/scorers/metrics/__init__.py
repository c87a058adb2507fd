"""Scorer-specific summary metrics, streamed from ``(expected, Score)`` pairs.

Each scorer family declares its accumulator with ``@scorer(..., metrics=...)``
(:mod:`evalkit.scorers.registry`); :func:`evalkit.scorers.registry.metrics_for` gives a fresh one per
model x scorer: ``add(expected, score)`` for each verdict, then ``finish()`` for a JSON-serialisable
dict. It reads only what the ledger keeps (the sample's ``expected``, the verdict's ``label``,
``answer`` and ``meta``), never the explanation text, and keeps only counts, so a finished run folder
is enough and memory does not grow with the ledger.

Every family gives ``kind``, ``n`` and ``class_counts``; then its own:
:mod:`~evalkit.scorers.metrics.classification` (``exact_match`` with ``labels``),
:mod:`~evalkit.scorers.metrics.json_metrics` (``json_valid``), :mod:`~evalkit.scorers.metrics.refusals`
(``refusal``), :mod:`~evalkit.scorers.metrics.instructions` (``instructions``),
:mod:`~evalkit.scorers.metrics.tool_calls` (``tool_calls``), :mod:`~evalkit.scorers.metrics.code`
(``code_exec``); anything else: the counts alone.
"""

from __future__ import annotations

from evalkit.scorers.metrics.base import Accumulator
from evalkit.scorers.metrics.classification import INVALID, ClassificationAccumulator, top_confusions
from evalkit.scorers.metrics.json_metrics import (
    JsonAccumulator,
    response_format_of,
    structured_output_check,
)
from evalkit.scorers.metrics.refusals import RefusalAccumulator

__all__ = [
    "INVALID",
    "Accumulator",
    "ClassificationAccumulator",
    "JsonAccumulator",
    "RefusalAccumulator",
    "response_format_of",
    "structured_output_check",
    "top_confusions",
]
