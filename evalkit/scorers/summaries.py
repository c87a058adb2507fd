"""Scorer-specific summary metrics, computed from ``(expected, Score)`` pairs in one pass.

:func:`extra_metrics` is what reports add below a scorer's mean. It reads only what the ledger
keeps (the sample's ``expected`` and the verdict), so it works on a finished run folder. Every
family gets ``n`` and ``class_counts``; then:

* ``exact_match`` with ``labels``: ``accuracy``, ``confusion`` (expected -> predicted -> count;
  predicted ``(invalid)`` for outputs that name no label, or several), ``per_class`` precision,
  recall, F1 and support, ``macro_f1`` (mean F1 over every class that was expected or predicted;
  precision is 0 for a class never predicted, as in scikit-learn), ``invalid_label_share``.
* ``json_valid``: ``strict_valid_rate`` (whole output is JSON and passes the schema) and
  ``lenient_valid_rate`` (also counting JSON found in a code fence or prose), both over the rows
  whose schema was usable (``bad_schema`` rows are counted apart), ``correct_rate``, and with
  ``compare: fields`` a ``per_field`` accuracy over the rows that reached the value comparison.
* ``refusal``: ``refusal_rate``, ``over_refusal_rate`` (refused among rows that should be
  answered), ``under_refusal_rate`` (answered among rows that should be refused),
  ``balanced_accuracy`` (mean of the two per-side accuracies), and the side sizes. A side with
  no rows gives ``None``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from evalkit.scorers.json_valid import LENIENT_MARK, MISMATCHED_MARK
from evalkit.scorers.refusal import EXPECTS_ANSWER, EXPECTS_REFUSAL
from evalkit.types import Score

INVALID = "(invalid)"


def extra_metrics(
    scorer_name: str, args: dict[str, Any], pairs: Iterable[tuple[Any, Score]]
) -> dict[str, Any]:
    """Summary metrics for one model's verdicts of scorer family ``scorer_name`` (see the module doc)."""
    args = args or {}
    if scorer_name == "exact_match" and args.get("labels") is not None:
        return _classification(pairs)
    if scorer_name == "json_valid":
        return _json(args, pairs)
    if scorer_name == "refusal":
        return _refusal(pairs)
    counts: Counter[str] = Counter()
    n = 0
    for _, score in pairs:
        n += 1
        counts[score.label or "(none)"] += 1
    return {"n": n, "class_counts": dict(counts)}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


# --- exact_match with labels --------------------------------------------------------------------


def _fold(label: str) -> str:
    return " ".join(label.casefold().replace("_", " ").replace("-", " ").split())


def _classification(pairs: Iterable[tuple[Any, Score]]) -> dict[str, Any]:
    display: dict[str, str] = {}

    def name(label: str) -> str:
        return display.setdefault(_fold(label), label)

    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    counts: Counter[str] = Counter()
    n = correct = invalid = 0
    for expected, score in pairs:
        n += 1
        counts[score.label or "(none)"] += 1
        if isinstance(expected, list | tuple):
            first = str(expected[0]) if expected else "(none)"
        else:
            first = "(none)" if expected is None else str(expected)
        if score.label == "correct" and score.answer is not None:
            truth = pred = name(score.answer)
            correct += 1
        elif score.label == "wrong" and score.answer is not None:
            truth, pred = name(first), name(score.answer)
        else:
            truth, pred = name(first), INVALID
            invalid += 1
        confusion[truth][pred] += 1
    classes = sorted({t for t in confusion} | {p for row in confusion.values() for p in row if p != INVALID})
    predicted: Counter[str] = Counter()
    for row in confusion.values():
        predicted.update(row)
    per_class: dict[str, dict[str, float | int]] = {}
    for c in classes:
        tp = confusion.get(c, Counter())[c]
        support = sum(confusion.get(c, Counter()).values())
        precision = tp / predicted[c] if predicted[c] else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return {
        "n": n,
        "class_counts": dict(counts),
        "accuracy": _ratio(correct, n),
        "confusion": {t: dict(row) for t, row in sorted(confusion.items())},
        "per_class": per_class,
        "macro_f1": sum(m["f1"] for m in per_class.values()) / len(per_class) if per_class else None,
        "invalid_label_share": _ratio(invalid, n),
    }


# --- json_valid --------------------------------------------------------------------------------


def _mismatched(explanation: str) -> list[str] | None:
    at = explanation.find(MISMATCHED_MARK)
    if at < 0:
        return None
    try:
        names, _ = json.JSONDecoder().raw_decode(explanation, at + len(MISMATCHED_MARK))
    except ValueError:
        return None
    return [str(x) for x in names] if isinstance(names, list) else None


def _json(args: dict[str, Any], pairs: Iterable[tuple[Any, Score]]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    n = strict_ok = lenient_ok = bad = 0
    by_fields = args.get("compare") == "fields"
    field_total: Counter[str] = Counter()
    field_ok: Counter[str] = Counter()
    for expected, score in pairs:
        n += 1
        label = score.label or "(none)"
        counts[label] += 1
        lenient = score.explanation.startswith(LENIENT_MARK)
        if label == "bad_schema":
            bad += 1
        if label in ("correct", "value_mismatch", "lenient_only"):
            lenient_ok += 1
            strict_ok += 0 if lenient else 1
            if by_fields and isinstance(expected, dict):
                wrong = set(_mismatched(score.explanation) or [])
                for f in set(expected) | wrong:
                    field_total[f] += 1
                    field_ok[f] += f not in wrong
    judged = n - bad
    out: dict[str, Any] = {
        "n": n,
        "class_counts": dict(counts),
        "strict_valid_rate": _ratio(strict_ok, judged),
        "lenient_valid_rate": _ratio(lenient_ok, judged),
        "correct_rate": _ratio(counts["correct"], n),
        "bad_schema": bad,
    }
    if by_fields:
        out["per_field"] = {f: field_ok[f] / field_total[f] for f in sorted(field_total)}
    return out


# --- refusal ------------------------------------------------------------------------------------


def _refusal(pairs: Iterable[tuple[Any, Score]]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    n = refused_n = 0
    side = {True: [0, 0], False: [0, 0]}  # should_refuse -> [rows, refused]
    for expected, score in pairs:
        n += 1
        counts[score.label or "(none)"] += 1
        refused = score.answer == "refused"
        refused_n += refused
        if EXPECTS_REFUSAL in score.explanation:
            want: bool | None = True
        elif EXPECTS_ANSWER in score.explanation:
            want = False
        else:
            want = expected if isinstance(expected, bool) else None
        if want is not None:
            side[want][0] += 1
            side[want][1] += refused
    over = _ratio(side[False][1], side[False][0])
    under = _ratio(side[True][0] - side[True][1], side[True][0])
    balanced = (1 - over + 1 - under) / 2 if over is not None and under is not None else None
    return {
        "n": n,
        "class_counts": dict(counts),
        "refusal_rate": _ratio(refused_n, n),
        "over_refusal_rate": over,
        "under_refusal_rate": under,
        "balanced_accuracy": balanced,
        "n_should_refuse": side[True][0],
        "n_should_answer": side[False][0],
    }
