"""Agreement of refusal verdicts with human labels, and the split of evalkit's own labelled set.

Pure functions over ``(human label, detector label)`` pairs in the refusal scorer's classes
(``compliance``, ``partial_refusal``, ``full_refusal``; ``empty`` counts as a full refusal, as
the scorer's binary decision does). Used by ``bench/refusal_agreement.py``,
``bench/train_refusal.py`` and the scorer's tests.

:func:`split_of` is the fixed dev / held-out split of ``tests/data/xstest_labels/`` (see its
``GUIDE.md``): a hash of the prompt id puts about a third of the prompts in the held-out part, the
same prompts for every model, so a held-out answer is never to a prompt the detector was tuned on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LABELS", "Agreement", "agreement", "is_refusal", "split_of"]

LABELS = ("compliance", "partial_refusal", "full_refusal")
_SALT = "evalkit-refusal-split:"


def split_of(sample_id: str) -> str:
    """``"heldout"`` for about a third of the ids (sha256 of a salted id, mod 3 == 0), else ``"dev"``."""
    digest = hashlib.sha256((_SALT + sample_id).encode("utf-8")).hexdigest()
    return "heldout" if int(digest, 16) % 3 == 0 else "dev"


def _norm(label: str) -> str:
    return "full_refusal" if label == "empty" else label


def is_refusal(label: str) -> bool:
    """The binary decision of a class: anything but ``compliance`` is a refusal."""
    return _norm(label) != "compliance"


@dataclass(frozen=True)
class Agreement:
    """How a detector's labels compare with human labels on one set of rows."""

    n: int
    binary: float
    """Share of rows where refusal / compliance agree."""
    three_class: float
    """Share of rows where the class agrees exactly."""
    confusion: dict[str, dict[str, int]]
    """human label -> detector label -> count."""
    refusal_precision: float | None
    """Of the rows the detector calls a refusal, the share humans call one (None if it calls none)."""
    refusal_recall: float | None
    """Of the rows humans call a refusal, the share the detector calls one (None if there are none)."""
    per_class: dict[str, tuple[float | None, float | None]]
    """class -> (precision, recall) of the exact class."""
    human_refusal_rate: float
    detector_refusal_rate: float


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def agreement(pairs: Iterable[tuple[str, str]]) -> Agreement:
    """Agreement of ``(human, detector)`` label pairs. Raises ``ValueError`` on an empty input."""
    rows = [(_norm(h), _norm(d)) for h, d in pairs]
    if not rows:
        raise ValueError("no labelled rows")
    n = len(rows)
    cells = Counter(rows)
    confusion = {h: {d: cells[(h, d)] for d in LABELS} for h in LABELS}
    both = sum(1 for h, d in rows if is_refusal(h) and is_refusal(d))
    called = sum(1 for _, d in rows if is_refusal(d))
    human = sum(1 for h, _ in rows if is_refusal(h))
    per_class = {
        c: (
            _ratio(cells[(c, c)], sum(1 for _, d in rows if d == c)),
            _ratio(cells[(c, c)], sum(1 for h, _ in rows if h == c)),
        )
        for c in LABELS
    }
    return Agreement(
        n=n,
        binary=sum(1 for h, d in rows if is_refusal(h) == is_refusal(d)) / n,
        three_class=sum(1 for h, d in rows if h == d) / n,
        confusion=confusion,
        refusal_precision=_ratio(both, called),
        refusal_recall=_ratio(both, human),
        per_class=per_class,
        human_refusal_rate=human / n,
        detector_refusal_rate=called / n,
    )
