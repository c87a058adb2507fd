"""``answer_match``: SQuAD's exact match and token F1 against any gold answer, abstention-aware.

The normalisation and both measures are those of the official SQuAD v2.0 evaluation script
(``evaluate-v2.0.py``): lower case, drop ASCII punctuation (``string.punctuation``), drop the
articles ``a``/``an``/``the``, collapse whitespace; EM is 1 when the normalised prediction equals a
normalised gold answer; F1 is the harmonic mean of token precision and recall over the bag of
normalised tokens. Both are the maximum over the row's gold answers (gold answers that normalise to
nothing are dropped). A row without gold answers is unanswerable: its only correct answer is the
empty one, i.e. EM = F1 = 1 when the prediction is empty and 0 otherwise.

"Empty" means the model abstained: the output is read by the refusal scorer's detector
(:func:`evalkit.scorers.refusal.detect`); an output classed ``full_refusal`` or ``empty`` (and, by
default, ``partial_refusal``) is the empty prediction. Everything else is the prediction, as the
official script would read a span.

Classes (``Score.label``): on answerable rows ``exact`` (EM 1), ``partial`` (F1 > 0, EM 0),
``wrong`` (F1 0) and ``abstained`` (abstained although there is an answer); on unanswerable rows
``correct_abstention`` (abstained, or the prediction normalises to nothing) and
``answered_unanswerable`` (an answer where there is none).

``value`` is F1 (or EM with ``metric: em``). ``Score.meta``: ``em`` and ``f1`` (floats),
``abstained`` (the detector's decision) and ``answerable`` (the row has gold answers).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping
from typing import Any

from evalkit.scorers.refusal import detect
from evalkit.scorers.registry import ScoreFn, scorer
from evalkit.scorers.text import clip, first_line
from evalkit.types import Sample, Score

__all__ = [
    "CLASSES",
    "answer_tokens",
    "best_match",
    "exact_match_score",
    "f1_score",
    "gold_answers",
    "normalize_answer",
]

CLASSES = ("exact", "partial", "wrong", "abstained", "correct_abstention", "answered_unanswerable")
METRICS = ("f1", "em")
EXTRACT_MODES = ("full", "first_line")
PARTIAL = ("abstention", "answer")

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's ``normalize_answer``: lower case, no punctuation, no articles, single spaces."""
    lowered = text.lower()
    no_punct = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", no_punct).split())


def answer_tokens(text: str) -> list[str]:
    """SQuAD's ``get_tokens``: the normalised answer split on whitespace."""
    return normalize_answer(text).split() if text else []


def exact_match_score(gold: str, prediction: str) -> float:
    """SQuAD's ``compute_exact``: 1.0 when both normalise to the same text."""
    return float(normalize_answer(gold) == normalize_answer(prediction))


def f1_score(gold: str, prediction: str) -> float:
    """SQuAD's ``compute_f1``: token-bag F1; when either side has no tokens, 1.0 only if both have none."""
    gold_toks, pred_toks = answer_tokens(gold), answer_tokens(prediction)
    if not gold_toks or not pred_toks:
        return float(gold_toks == pred_toks)
    same = sum((Counter(gold_toks) & Counter(pred_toks)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_toks), same / len(gold_toks)
    return 2 * precision * recall / (precision + recall)


def gold_answers(sample: Sample, field: str = "answers") -> list[str]:
    """The row's gold answer texts: the ``field`` list (strings, or SQuAD's ``{"text": ...}``
    objects) when the row has it, else ``expected`` (a string or a list; ``null`` = none)."""
    raw: Any = sample.fields.get(field, sample.expected)
    items = raw if isinstance(raw, list | tuple) else [] if raw is None else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get("text")
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append(str(item))
    return out


def best_match(golds: list[str], prediction: str) -> tuple[float, float, str]:
    """(EM, F1, the gold answer with the best F1) as the official script scores one question.

    Gold answers that normalise to nothing are dropped; with none left the only gold answer is ``""``.
    """
    usable = [g for g in golds if normalize_answer(g)] or [""]
    em = max(exact_match_score(g, prediction) for g in usable)
    scored = [(f1_score(g, prediction), -i, g) for i, g in enumerate(usable)]
    f1, _, best = max(scored)
    return em, f1, best


def _figures(em: float, f1: float) -> str:
    return f"EM {em:g}, F1 {f1:.2f}"


@scorer("answer_match")
def answer_match(
    *,
    metric: str = "f1",
    answers_field: str = "answers",
    extract: str = "full",
    partial_counts_as: str = "abstention",
) -> ScoreFn:
    """SQuAD exact match and token F1 against any gold answer; unanswerable rows want an abstention.

    Args:
        metric: ``f1`` (default) or ``em``: which of the two is the verdict's value.
        answers_field: the row's list of gold answers (default ``answers``); rows without it
            use ``expected``. No gold answers = unanswerable.
        extract: ``full`` (default): the whole output is the prediction; ``first_line``: its
            first non-blank line.
        partial_counts_as: ``abstention`` (default, as the ``refusal`` scorer counts it) or
            ``answer``: how an output that abstains but also says more is read.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)} (got {metric!r})")
    if extract not in EXTRACT_MODES:
        raise ValueError(f"extract must be one of {', '.join(EXTRACT_MODES)} (got {extract!r})")
    if partial_counts_as not in PARTIAL:
        raise ValueError(f"partial_counts_as must be one of {', '.join(PARTIAL)} (got {partial_counts_as!r})")
    if not isinstance(answers_field, str) or not answers_field:
        raise ValueError(f"answers_field must be a non-empty field name (got {answers_field!r})")

    def fn(output_text: str, sample: Sample) -> Score:
        text = output_text if isinstance(output_text, str) else ""
        d = detect(text)
        abstained = d.label in ("full_refusal", "empty") or (
            d.label == "partial_refusal" and partial_counts_as == "abstention"
        )
        raw = "" if abstained else (first_line(text) if extract == "first_line" else text).strip()
        golds = gold_answers(sample, answers_field)
        em, f1, best = best_match(golds, raw)
        answerable = best != ""
        meta: dict[str, Any] = {"em": em, "f1": f1, "abstained": abstained, "answerable": answerable}
        value = f1 if metric == "f1" else em
        answer = "abstained" if abstained else clip(raw, 300)
        pred = normalize_answer(raw)
        if not answerable:
            if em:
                how = (
                    f"abstained ({d.label}: {d.reason})"
                    if abstained
                    else "the prediction is empty once normalised"
                )
                why = f"{how}; the question has no answer in the context: correct ({_figures(em, f1)})"
                return Score(value, answer, why, "correct_abstention", meta)
            why = f"answered {clip(pred, 120)!r} (normalised) but the question has no answer: {_figures(em, f1)}"
            return Score(value, answer, why, "answered_unanswerable", meta)
        gold = f"gold {clip(best, 100)!r}" + (
            f" (normalised {clip(normalize_answer(best), 100)!r})" if normalize_answer(best) != best else ""
        )
        if abstained:
            why = f"abstained ({d.label}: {d.reason}) although the question has an answer, {gold}: {_figures(em, f1)}"
            return Score(value, answer, why, "abstained", meta)
        label = "exact" if em else "partial" if f1 > 0 else "wrong"
        n = len(golds)
        among = f" (best of {n} gold answers)" if n > 1 else ""
        why = f"prediction {clip(pred, 120)!r} (normalised) vs {gold}{among}: {_figures(em, f1)}"
        return Score(value, answer, why, label, meta)

    return fn
