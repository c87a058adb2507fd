"""``exact_match`` with ``labels``: the confusion matrix and per-class precision, recall and F1.

Rows are ``expected -> predicted``: the expected label (the first one when ``expected`` is a list;
on a correct row the label that matched) against the label read (``Score.meta["predicted_label"]``)
or :data:`INVALID` when the output named no label, several labels, or nothing (``invalid_label``,
``ambiguous_label``, ``empty``, ``no_answer``). Labels that differ only in case, ``_``, ``-`` or
spaces are one class, shown as first seen. Rows of any other class (a scorer error) are counted
in ``class_counts`` and ``unscored`` and left out of the matrix.

Metrics: ``accuracy`` (correct / n), ``confusion`` (expected -> predicted -> count), ``per_class``
(precision, recall, F1, support), ``macro_f1`` (mean F1 over every class that was expected or
predicted; precision is 0 for a class never predicted, as in scikit-learn), ``invalid_label_share``
(rows predicted :data:`INVALID` / n), ``n_classes``. At most :data:`MAX_CLASSES` distinct
classes are kept; further ones are counted under ``(other)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from evalkit.scorers.metrics.base import OTHER, Accumulator, ratio
from evalkit.types import Score

__all__ = ["INVALID", "MAX_CLASSES", "ClassificationAccumulator", "top_confusions"]

INVALID = "(invalid)"
"""The predicted class of an output that names no single label."""
MAX_CLASSES = 1000
_INVALID_CLASSES = ("invalid_label", "ambiguous_label", "empty", "no_answer")


def _fold(label: str) -> str:
    return " ".join(label.casefold().replace("_", " ").replace("-", " ").split())


class ClassificationAccumulator(Accumulator):
    kind = "classification"
    classes = ("correct", "wrong", "invalid_label", "ambiguous_label", "no_answer", "empty")

    def __init__(self) -> None:
        super().__init__()
        self.display: dict[str, str] = {}
        self.confusion: dict[str, Counter[str]] = defaultdict(Counter)
        self.correct = self.invalid = self.unscored = 0

    def _name(self, label: str) -> str:
        key = _fold(label)
        if key not in self.display and len(self.display) >= MAX_CLASSES:
            return OTHER
        return self.display.setdefault(key, label)

    def add(self, expected: Any, score: Score, sample_id: str | None = None) -> None:
        super().add(expected, score, sample_id)
        if isinstance(expected, list | tuple):
            first = str(expected[0]) if expected else "(none)"
        else:
            first = "(none)" if expected is None else str(expected)
        predicted = score.meta.get("predicted_label")
        if predicted is None and score.label in ("correct", "wrong"):
            predicted = score.answer  # ledger lines written before Score.meta: the answer is the label
        if score.label == "correct" and predicted is not None:
            truth = pred = self._name(str(predicted))
            self.correct += 1
        elif score.label == "wrong" and predicted is not None:
            truth, pred = self._name(first), self._name(str(predicted))
        elif score.label in _INVALID_CLASSES:
            truth, pred = self._name(first), INVALID
            self.invalid += 1
        else:
            self.unscored += 1
            return
        self.confusion[truth][pred] += 1

    def finish(self) -> dict[str, Any]:
        confusion = self.confusion
        classes = sorted(set(confusion) | {p for row in confusion.values() for p in row if p != INVALID})
        predicted: Counter[str] = Counter()
        for row in confusion.values():
            predicted.update(row)
        per_class: dict[str, dict[str, float | int]] = {}
        for c in classes:
            row = confusion.get(c, Counter())
            tp, support = row[c], sum(row.values())
            precision = tp / predicted[c] if predicted[c] else 0.0
            recall = tp / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        out = super().finish()
        out.update(
            accuracy=ratio(self.correct, self.n),
            confusion={t: dict(sorted(row.items())) for t, row in sorted(confusion.items())},
            per_class=per_class,
            macro_f1=sum(m["f1"] for m in per_class.values()) / len(per_class) if per_class else None,
            invalid_label_share=ratio(self.invalid, self.n),
            n_classes=len(classes),
            unscored=self.unscored,
        )
        return out


def top_confusions(confusion: dict[str, dict[str, int]], k: int = 15) -> list[tuple[str, str, int]]:
    """The ``k`` most frequent off-diagonal ``(expected, predicted, count)``, :data:`INVALID` included;
    ties by expected then predicted label."""
    pairs = [(t, p, c) for t, row in confusion.items() for p, c in row.items() if p != t and c > 0]
    return sorted(pairs, key=lambda x: (-x[2], x[0], x[1]))[:k]
