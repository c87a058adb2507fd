"""``exact_match``: the answer read from the output equals the expected answer (or one of several).

Classes (``Score.label``):

* ``correct``: the answer matches ``expected`` (or one item of an ``expected`` list);
* ``wrong``: an answer was read and does not match (also when the sample has no expected);
* ``invalid_label``: with ``labels``, the output names none of the allowed labels;
* ``ambiguous_label``: with ``labels``, the output names two or more different labels;
* ``no_answer``: with ``extract: regex``, the pattern found nothing in the output;
* ``empty``: the output (or the extracted answer, once normalised) is empty.

``answer`` is what was read: the label from the set, or the extracted text (the raw text, before
normalisation). ``value`` is 1.0 for ``correct`` and 0.0 otherwise.

``Score.meta`` (with ``labels`` only): ``predicted_label`` (the label read, as spelled in the
label set) on ``correct`` and ``wrong`` rows; ``mentioned_labels`` (the first five) and
``n_mentioned`` on ``ambiguous_label`` rows. Summaries build the confusion matrix from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.scorers.metrics.base import Accumulator
from evalkit.scorers.metrics.classification import ClassificationAccumulator
from evalkit.scorers.registry import ScoreFn, scorer
from evalkit.scorers.text import (
    LabelSet,
    Normalizer,
    as_number,
    clip,
    compile_pattern,
    first_line,
    load_labels,
    parse_number,
    punctuation_mode,
    regex_extract,
    strip_surrounding,
)
from evalkit.types import Sample, Score

CLASSES = ("correct", "wrong", "invalid_label", "ambiguous_label", "no_answer", "empty")
EXTRACT_MODES = ("full", "first_line", "regex")


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false (got {value!r})")
    return value


def _expected_items(expected: Any) -> list[Any]:
    """The acceptable answers: strings and numbers; ``None`` items dropped."""
    items = list(expected) if isinstance(expected, list | tuple) else [expected]
    out: list[Any] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(item)
        else:
            try:
                out.append(json.dumps(item, ensure_ascii=False, sort_keys=True))
            except (TypeError, ValueError):
                out.append(str(item))
    return out


def _show(value: Any) -> str:
    return repr(clip(value if isinstance(value, str) else str(value), 80))


def _metrics(args: Mapping[str, Any]) -> Accumulator:
    """With a closed label set: the classification metrics; without: the class counts."""
    return ClassificationAccumulator() if args.get("labels") is not None else Accumulator()


@scorer("exact_match", metrics=_metrics)
def exact_match(
    *,
    case_sensitive: bool = False,
    strip: bool = True,
    ignore_punctuation: bool | str = True,
    nfkc: bool = True,
    ignore_articles: bool = False,
    numeric_tolerance: float | None = None,
    extract: str | None = None,
    pattern: str | None = None,
    labels: list[str] | str | None = None,
    base_dir: Path | None = None,
) -> ScoreFn:
    """Exact match of the extracted answer against the expected answer(s), after normalisation.

    Args:
        case_sensitive: compare case (default off: Unicode case folding).
        strip: trim and collapse whitespace (default on).
        ignore_punctuation: ``true`` (default) = strip punctuation and markdown marks around the
            answer; ``"all"`` = delete all punctuation (SQuAD style); ``false`` = keep it.
        nfkc: Unicode NFKC normalisation (default on).
        ignore_articles: drop "a", "an", "the" (default off).
        numeric_tolerance: when set, an answer and an expected value that both parse as numbers
            match when they differ by at most this much. Expected values that are JSON numbers
            are always compared numerically (tolerance 0 unless set), so ``5`` matches ``"5.0"``.
        extract: ``full`` (default), ``first_line`` (first non-blank line) or ``regex``
            (the default when ``pattern`` is given).
        pattern: regex for ``extract: regex``; its first group that matched, else the whole match.
        labels: the closed label set (a list, or a ``.json`` array / ``.txt`` file, one label a
            line, relative to the suite). The answer is the label the output names: the whole
            (extracted) text if it is a label, else the one label mentioned as a whole word or
            phrase; ``_``, ``-`` and spaces are the same. None named: ``invalid_label``; two or
            more: ``ambiguous_label``.
    """
    normalizer = Normalizer(
        case_sensitive=_flag("case_sensitive", case_sensitive),
        strip=_flag("strip", strip),
        punctuation=punctuation_mode(ignore_punctuation),
        nfkc=_flag("nfkc", nfkc),
        ignore_articles=_flag("ignore_articles", ignore_articles),
    )
    tolerance: float | None = None
    if numeric_tolerance is not None:
        if isinstance(numeric_tolerance, bool) or not isinstance(numeric_tolerance, int | float):
            raise ValueError(f"numeric_tolerance must be a number >= 0 or null (got {numeric_tolerance!r})")
        if not math.isfinite(numeric_tolerance) or numeric_tolerance < 0:
            raise ValueError(f"numeric_tolerance must be a number >= 0 (got {numeric_tolerance!r})")
        tolerance = float(numeric_tolerance)
    mode = extract if extract is not None else ("regex" if pattern is not None else "full")
    if mode not in EXTRACT_MODES:
        raise ValueError(f"extract must be one of {', '.join(EXTRACT_MODES)} (got {extract!r})")
    if mode == "regex" and pattern is None:
        raise ValueError("extract: regex needs a pattern")
    if mode != "regex" and pattern is not None:
        raise ValueError(f"pattern is only used with extract: regex (extract is {mode!r})")
    rx = compile_pattern(pattern) if pattern is not None else None
    label_set = LabelSet(load_labels(labels, base_dir), normalizer) if labels is not None else None

    def numeric_key(text: str) -> float | None:
        return parse_number(strip_surrounding(text))

    def fn(output_text: str, sample: Sample) -> Score:
        text = (
            output_text if isinstance(output_text, str) else ("" if output_text is None else str(output_text))
        )
        if not text.strip():
            return Score(0.0, None, "empty output", "empty")
        if rx is not None:
            found = regex_extract(rx, text)
            if found is None:
                return Score(
                    0.0, None, f"pattern /{clip(rx.pattern, 60)}/ found nothing in the output", "no_answer"
                )
            extracted = found
        else:
            extracted = first_line(text) if mode == "first_line" else text
        raw = extracted.strip()  # shown as the answer; comparisons use ``extracted`` (see ``strip``)
        expected = _expected_items(sample.expected)
        if label_set is not None:
            return _score_label(label_set, raw, expected)
        answer = clip(raw, 1000)
        norm = normalizer(extracted)
        if not norm:
            return Score(0.0, answer, f"the answer {_show(raw)} is empty after normalisation", "empty")
        if not expected:
            return Score(0.0, answer, "the sample has no expected answer to compare with", "wrong")
        for item in expected:
            target = as_number(item) if isinstance(item, int | float) else None
            tol = tolerance if tolerance is not None else (0.0 if target is not None else None)
            if tol is not None:
                got = numeric_key(raw)
                want = (
                    target if target is not None else (numeric_key(item) if isinstance(item, str) else None)
                )
                if got is not None and want is not None:
                    if math.isclose(got, want, rel_tol=1e-9, abs_tol=tol):
                        within = f" within {tol:g}" if tol else ""
                        return Score(
                            1.0,
                            answer,
                            f"{_show(raw)} equals expected {_show(item)} numerically{within}",
                            "correct",
                        )
                    continue
            if normalizer(str(item)) == norm:
                how = "" if str(item) == raw else " after normalisation"
                return Score(1.0, answer, f"{_show(raw)} matches expected {_show(item)}{how}", "correct")
        if len(expected) == 1:
            shown = normalizer(str(expected[0]))
            detail = (
                f" (normalised: {norm!r} vs {shown!r})" if (norm != raw or shown != str(expected[0])) else ""
            )
            why = f"{_show(raw)} does not match expected {_show(expected[0])}{clip(detail, 200)}"
        else:
            listed = ", ".join(_show(e) for e in expected[:5]) + (", ..." if len(expected) > 5 else "")
            why = f"{_show(raw)} matches none of the {len(expected)} expected answers ({listed})"
        return Score(0.0, answer, why, "wrong")

    return fn


def _score_label(label_set: LabelSet, raw: str, expected: list[Any]) -> Score:
    label = label_set.canonical(raw)
    how = "the output is the label"
    if label is None:
        mentioned = label_set.mentioned(raw)
        if len(mentioned) > 1:
            names = ", ".join(repr(m) for m in mentioned[:2]) + (
                f" and {len(mentioned) - 2} more" if len(mentioned) > 2 else ""
            )
            return Score(
                0.0,
                clip(raw, 200),
                f"ambiguous: the output names {len(mentioned)} labels ({names})",
                "ambiguous_label",
                {"mentioned_labels": list(mentioned[:5]), "n_mentioned": len(mentioned)},
            )
        if not mentioned:
            return Score(
                0.0,
                clip(raw, 200),
                f"{_show(raw)} is not a valid label (it names none of the {len(label_set)} labels)",
                "invalid_label",
            )
        label = mentioned[0]
        how = "found in the output"
    meta = {"predicted_label": label}
    if not expected:
        return Score(
            0.0, label, f"read label {label!r} ({how}); the sample has no expected answer", "wrong", meta
        )
    keys = [label_set.key(str(e)) for e in expected]
    if label_set.key(label) in keys:
        return Score(1.0, label, f"read label {label!r} ({how}), as expected", "correct", meta)
    shown = expected[0] if len(expected) == 1 else expected
    note = (
        "" if any(str(e) in label_set for e in expected) else " (the expected answer is not in the label set)"
    )
    return Score(0.0, label, f"read label {label!r} ({how}), expected {_show(shown)}{note}", "wrong", meta)
