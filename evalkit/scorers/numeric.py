"""``numeric``: the final number of a worked answer equals the expected number, within a tolerance.

Where the number is read from (``meta.source``), the first that is present, in the order of
``sources`` (default all four):

* ``hash_marker`` — the last ``#### N`` (GSM8K's format);
* ``boxed`` — the last ``\\boxed{N}`` (``\\fbox``; ``\\frac{a}{b}``, ``\\text{..}``, ``\\$``, ``\\%`` understood);
* ``answer_phrase`` — the last "answer is N", "answer: N", "final answer = N": the first number after
  it in the same sentence, or the one after the sentence's last ``=`` ("the answer is 5 + 3 = 8");
* ``last_number`` — the last number anywhere.

A number may carry a sign, a currency symbol (``$ € £ ¥ ₹``), thousands commas (``1,234``; a comma
followed by other than three digits separates numbers), decimals (``.5``), a simple fraction
(``3/4``) or a mixed number (``1 1/2``), and a trailing ``%`` or "percent" (``50%`` reads 50 and
also matches an expected 0.5); units and words after it are ignored. GSM8K calculator annotations
(``<<48/2=24>>``) are removed first. Number words ("five") are not read.

Classes: ``correct``, ``wrong``, ``no_number`` (nothing to read where ``sources`` allow),
``bad_expected`` (the sample's expected value is not a number). ``meta``: ``source``, ``number``
(the value read), ``raw`` (its text), ``percent`` when it had one.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.scorers.registry import ScoreFn, scorer
from evalkit.scorers.text import clip
from evalkit.types import Sample, Score

__all__ = ["CLASSES", "SOURCES", "Reading", "parse_number_text", "read_number"]

CLASSES = ("correct", "wrong", "no_number", "bad_expected")
SOURCES = ("hash_marker", "boxed", "answer_phrase", "last_number")

_NUMBER = re.compile(
    r"""
    (?<![\w./])
    (?P<sign>[-+])?
    (?P<cur>[$€£¥₹]\s?)?
    (?:
        (?P<whole>\d+)[ \t]+(?P<mnum>\d+)[ \t]*/[ \t]*(?P<mden>\d+)(?![\d.,]*\d)
      | (?P<num>\d+)[ \t]*/[ \t]*(?P<den>\d+)(?![\d.,]*\d)
      | (?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?P<dec>\.\d+)?
      | (?P<dot>\.\d+)
    )
    (?P<pct>[ \t]?%|[ \t]percent\b)?
    """,
    re.VERBOSE,
)
_ANNOTATION = re.compile(r"<<[^<>\n]{0,200}>>")
_GROUP_SPACE = re.compile(r"(?<=\d)[\u202f\u2009\u00a0](?=\d{3}(?!\d))")
_HASH = re.compile(r"####[ \t]*([^\n]*)")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASE = re.compile(
    r"\b(?:final[ \t]+answer|answer)\b"
    r"(?:[*_ \t]*[:=]|[^\n.:=]{0,40}?\b(?:is|was|would[ \t]+be|will[ \t]+be|equals)\b)"
    r"[*_ \t:]*([^\n]*)",
    re.IGNORECASE,
)
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}")
_PHRASE_WINDOW = 120
_SENTENCE_END = re.compile(r"\.(?:\s|$)|[;!?]")


@dataclass(frozen=True, slots=True)
class Reading:
    """A number read from the answer."""

    value: float
    raw: str
    """The text it was read from (clipped), e.g. ``$1,200``."""
    source: str
    percent: bool = False


def _prepare(text: str) -> str:
    text = _GROUP_SPACE.sub("", text)
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return _ANNOTATION.sub("", text)


def _value(m: re.Match[str]) -> float | None:
    sign = -1.0 if m.group("sign") == "-" else 1.0
    try:
        if m.group("whole") is not None:
            den = int(m.group("mden"))
            return None if den == 0 else sign * (int(m.group("whole")) + int(m.group("mnum")) / den)
        if m.group("num") is not None:
            den = int(m.group("den"))
            return None if den == 0 else sign * int(m.group("num")) / den
        if m.group("int") is not None:
            v = float(m.group("int").replace(",", "") + (m.group("dec") or ""))
        else:
            v = float(m.group("dot"))
    except (ValueError, OverflowError):
        return None
    return sign * v if math.isfinite(v) else None


def _first(span: str, source: str) -> Reading | None:
    for m in _NUMBER.finditer(span):
        v = _value(m)
        if v is not None:
            return Reading(v, clip(m.group(0).strip(), 60), source, m.group("pct") is not None)
    return None


def _boxed_contents(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` with balanced braces (one linear pass over the text)."""
    starts = [m.end() - 1 for m in _BOXED.finditer(text)]
    if not starts:
        return []
    closing: dict[int, int] = {}
    stack: list[int] = []
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            closing[stack.pop()] = i
    return [text[i + 1 : closing[i]] for i in starts if i in closing]


def _unlatex(s: str) -> str:
    s = _FRAC.sub(r"\1/\2", s)
    s = _TEXT.sub(" ", s)
    s = s.replace("{,}", ",").replace("\\,", "").replace("\\!", "").replace("\\%", "%").replace("\\$", "$")
    return s.replace("\\left", "").replace("\\right", "").replace("{", " ").replace("}", " ")


def _hash_marker(text: str) -> Reading | None:
    found = [_first(m.group(1), "hash_marker") for m in _HASH.finditer(text)]
    return next((r for r in reversed(found) if r is not None), None)


def _boxed(text: str) -> Reading | None:
    found = [_first(_unlatex(c), "boxed") for c in _boxed_contents(text)]
    return next((r for r in reversed(found) if r is not None), None)


def _phrase_value(span: str) -> Reading | None:
    """The number after an answer phrase: the first in its sentence, or the result of the sentence's
    last ``=`` ("the answer is 5 + 3 = 8" reads 8)."""
    sentence = _SENTENCE_END.split(_unlatex(span[:_PHRASE_WINDOW]), maxsplit=1)[0]
    if "=" in sentence:
        after = _first(sentence.rsplit("=", 1)[1], "answer_phrase")
        if after is not None:
            return after
    return _first(sentence, "answer_phrase")


def _answer_phrase(text: str) -> Reading | None:
    found = [_phrase_value(m.group(1)) for m in _PHRASE.finditer(text)]
    return next((r for r in reversed(found) if r is not None), None)


def _last_number(text: str) -> Reading | None:
    last = None
    for m in _NUMBER.finditer(text):
        v = _value(m)
        if v is not None:
            last = Reading(v, clip(m.group(0).strip(), 60), "last_number", m.group("pct") is not None)
    return last


_READERS: dict[str, Callable[[str], Reading | None]] = {
    "hash_marker": _hash_marker,
    "boxed": _boxed,
    "answer_phrase": _answer_phrase,
    "last_number": _last_number,
}


def read_number(text: str, sources: Sequence[str] = SOURCES) -> Reading | None:
    """The final number of ``text`` from the first of ``sources`` that has one; never raises."""
    if not isinstance(text, str) or not text.strip():
        return None
    prepared = _prepare(text[-200_000:])
    for source in sources:
        found = _READERS[source](prepared)
        if found is not None:
            return found
    return None


def parse_number_text(value: Any) -> float | None:
    """An expected answer as a number: a JSON number, or a string that is one number (``"1,200"``, ``"-3"``, ``"3/4"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if not isinstance(value, str) or len(value) > 100:
        return None
    s = _prepare(value).strip()
    m = _NUMBER.fullmatch(s)
    return _value(m) if m is not None else None


def _show(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"


def _number_arg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0 (got {value!r})")
    return float(value)


_WHERE = {
    "hash_marker": "the '####' marker",
    "boxed": "\\boxed{}",
    "answer_phrase": "the 'answer is' phrase",
    "last_number": "the last number in the answer",
}


@scorer("numeric")
def numeric(
    *, tolerance: float = 1e-6, relative_tolerance: float = 0.0, sources: Sequence[str] | None = None
) -> ScoreFn:
    """The final number of a worked answer (####, \\boxed{}, "the answer is", last number) equals expected.

    Args:
        tolerance: largest absolute difference that still matches (default 1e-6).
        relative_tolerance: largest difference relative to the expected value (default 0).
        sources: where to read the number from, in order of preference; default all of
            ``hash_marker``, ``boxed``, ``answer_phrase``, ``last_number``. ``[hash_marker]``
            accepts only answers in the asked-for format.
    """
    abs_tol = _number_arg(tolerance, "tolerance")
    rel_tol = _number_arg(relative_tolerance, "relative_tolerance")
    if sources is None:
        order: tuple[str, ...] = SOURCES
    else:
        if isinstance(sources, str) or not isinstance(sources, list | tuple) or not sources:
            raise ValueError(f"sources must be a non-empty list of {', '.join(SOURCES)} (got {sources!r})")
        bad = [s for s in sources if s not in SOURCES]
        if bad:
            raise ValueError(f"sources: unknown source {bad[0]!r}; known: {', '.join(SOURCES)}")
        order = tuple(dict.fromkeys(sources))

    def fn(output_text: str, sample: Sample) -> Score:
        want = parse_number_text(sample.expected)
        if want is None:
            return Score(
                0.0,
                None,
                f"the expected answer {clip(repr(sample.expected), 80)} is not a number",
                "bad_expected",
            )
        reading = read_number(output_text, order)
        if reading is None:
            where = "" if order == SOURCES else f" ({', '.join(order)} only)"
            return Score(0.0, None, f"no number in the answer{where}", "no_number")
        got = reading.value
        meta: dict[str, Any] = {"source": reading.source, "number": got, "raw": reading.raw}
        if reading.percent:
            meta["percent"] = True
        candidates = [got, got / 100.0] if reading.percent else [got]
        shown = _show(got)
        read = f"read {shown} from {_WHERE[reading.source]} ({reading.raw!r})"
        for c in candidates:
            if math.isclose(c, want, rel_tol=rel_tol, abs_tol=abs_tol):
                how = " as a fraction of 100" if c is not got else ""
                return Score(1.0, shown, f"{read}{how}: equals the expected {_show(want)}", "correct", meta)
        return Score(0.0, shown, f"{read}: expected {_show(want)}", "wrong", meta)

    return fn
