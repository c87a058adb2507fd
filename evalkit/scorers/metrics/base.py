"""What every accumulator shares: the row count and the class counts, bounded."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from evalkit.types import Score

__all__ = ["MAX_LABELS", "NO_LABEL", "OTHER", "Accumulator", "ratio"]

NO_LABEL = "(none)"
"""The class of a verdict without a label."""
OTHER = "(other)"
"""Where labels beyond :data:`MAX_LABELS` distinct ones are counted, so memory stays bounded."""
MAX_LABELS = 100


def ratio(num: int, den: int) -> float | None:
    """``num / den``, or ``None`` when there is nothing to divide by (never a made-up 0)."""
    return num / den if den else None


class Accumulator:
    """Streams one model's verdicts of one scorer: :meth:`add` each, then :meth:`finish` once.

    The base counts rows and classes (the family's own classes first, zeros included, in their
    documented order; then any other label by count); families add their own counts. Only
    counts are kept, never the rows.
    """

    kind: ClassVar[str] = "counts"
    """Which family's metrics these are (``counts``, ``classification``, ``json``, ``refusal``)."""
    classes: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.n = 0
        self.labels: Counter[str] = Counter()

    def add(self, expected: Any, score: Score, sample_id: str | None = None) -> None:
        """Count one verdict (``expected`` is the sample's reference answer, as the ledger keeps it;
        ``sample_id`` says which sample it is an epoch of, for families that count per sample)."""
        self.n += 1
        label = score.label if isinstance(score.label, str) else NO_LABEL
        if label not in self.labels and len(self.labels) >= MAX_LABELS and label not in self.classes:
            label = OTHER
        self.labels[label] += 1

    def class_counts(self) -> dict[str, int]:
        out = {c: self.labels.get(c, 0) for c in self.classes}
        for label, k in sorted(self.labels.items(), key=lambda kv: (-kv[1], kv[0])):
            out.setdefault(label, k)
        return out

    def finish(self) -> dict[str, Any]:
        """The metrics, as a JSON-serialisable dict: ``kind``, ``n``, ``class_counts`` and the family's own."""
        return {"kind": self.kind, "n": self.n, "class_counts": self.class_counts()}
