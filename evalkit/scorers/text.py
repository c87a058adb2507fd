"""Text helpers shared by the scorers: normalisation, number parsing, answer extraction, labels.

Nothing here raises on any input text (the scorers' ``fn`` must never raise); configuration
problems (a bad regex, an unreadable label file) raise ``ValueError`` from the ``compile_*`` /
``load_*`` helpers, which the factories call once.

Normalisation (:class:`Normalizer`) is applied to both sides of a comparison and is idempotent:
``n(n(x)) == n(x)`` for every text (a property test checks it). The steps, each optional:

* ``nfkc``: Unicode NFKC (full-width digits, ligatures, non-breaking spaces become plain forms).
* ``case_sensitive=False``: Unicode case folding (``"Straße"`` and ``"STRASSE"`` compare equal).
* ``ignore_punctuation``: ``True``/``"surrounding"`` strips punctuation (Unicode ``P*``) and
  markdown/quote marks around the answer, so ``**Paris.**``, ``"Paris"`` and ``(Paris)`` all read
  ``Paris``; punctuation inside (``U.S.``, ``card_arrival``, ``don't``) is kept. A sign or decimal
  point right before a digit and a ``%`` right after one are kept (``-5``, ``.5``, ``50%``).
  ``"all"`` deletes every punctuation character, like SQuAD's ``normalize_answer``.
  ``False`` leaves punctuation alone.
* ``ignore_articles``: drops the English articles ``a``, ``an``, ``the`` as whole words.
* ``strip``: trims the ends and collapses inner whitespace runs to one space.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalkit._util.io import read_json_file

PunctuationMode = Literal["none", "surrounding", "all"]

# Marks that wrap answers in model output but are not Unicode punctuation (P*).
_WRAPPER_SYMBOLS = frozenset("`~^|<>=+$")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'"})
_ARTICLES = re.compile(r"(?<!\w)(?:a|an|the)(?!\w)", re.IGNORECASE)
_WS = re.compile(r"\s+")


def is_punct(ch: str) -> bool:
    """True for Unicode punctuation (categories P*)."""
    return unicodedata.category(ch).startswith("P")


def _is_wrapper(ch: str) -> bool:
    return is_punct(ch) or ch in _WRAPPER_SYMBOLS or ch.isspace()


def strip_surrounding(text: str) -> str:
    """Remove punctuation, markdown marks and whitespace from both ends of ``text``.

    Keeps a leading ``+``/``-``/``.`` that starts a number and a trailing ``%`` after a digit.
    """
    start, end = 0, len(text)
    while start < end and _is_wrapper(text[start]):
        ch = text[start]
        if ch in "+-.\u2212" and start + 1 < end and text[start + 1].isdigit():
            break
        start += 1
    while end > start and _is_wrapper(text[end - 1]):
        if text[end - 1] == "%" and end - 2 >= start and text[end - 2].isdigit():
            break
        end -= 1
    return text[start:end]


def delete_punctuation(text: str) -> str:
    """Delete every Unicode punctuation character."""
    return "".join(ch for ch in text if not is_punct(ch))


def collapse_ws(text: str) -> str:
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class Normalizer:
    """The comparison normalisation of :mod:`evalkit.scorers.text` (see the module docstring)."""

    case_sensitive: bool = False
    strip: bool = True
    punctuation: PunctuationMode = "surrounding"
    nfkc: bool = True
    ignore_articles: bool = False

    def _once(self, text: str) -> str:
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if not self.case_sensitive:
            text = text.casefold()
            if self.nfkc:
                text = unicodedata.normalize("NFKC", text)
        if self.punctuation == "all":
            text = delete_punctuation(text)
        if self.ignore_articles:
            text = _ARTICLES.sub(" ", text)
        if self.punctuation == "surrounding":
            text = strip_surrounding(text)
        if self.strip:
            text = collapse_ws(text)
        return text

    def __call__(self, text: str) -> str:
        # Steps can expose work for each other ("(the) cat": stripping "(" exposes an article,
        # removing it exposes ")"), so run the pipeline to a fixed point. Each pass only removes
        # characters or rewrites to a normal form, so this settles in two or three passes.
        for _ in range(8):
            nxt = self._once(text)
            if nxt == text:
                return nxt
            text = nxt
        return text


def punctuation_mode(value: Any, *, arg: str = "ignore_punctuation") -> PunctuationMode:
    """Map the ``ignore_punctuation`` argument (bool or mode name) to a mode; ``ValueError`` otherwise."""
    if value is True:
        return "surrounding"
    if value is False:
        return "none"
    if value == "surrounding" or value == "all" or value == "none":
        return value
    raise ValueError(f"{arg} must be true, false, 'surrounding' or 'all' (got {value!r})")


# --- numbers -----------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def parse_number(text: str) -> float | None:
    """Parse ``text`` as one finite number (``"1,234.5"``, ``"-3"``, ``"1e3"``, ``"５"``), else ``None``.

    Surrounding whitespace is ignored; a leading ``$``/``€``/``£`` and a trailing ``%`` are not
    accepted (``"50%"`` is not ``50``). Never raises.
    """
    if not isinstance(text, str) or len(text) > 100:
        return None
    s = unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    elif not _NUMBER.fullmatch(s):
        return None
    try:
        value = float(s)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def as_number(value: Any) -> float | None:
    """A JSON number (not a bool) or a numeric string, as a float; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        return parse_number(value)
    return None


# --- answer extraction ---------------------------------------------------------------------------


def first_line(text: str) -> str:
    """The first line that is not blank (``""`` when there is none)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def compile_pattern(pattern: Any) -> re.Pattern[str]:
    """Compile an extraction regex, or raise ``ValueError`` naming the problem."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"pattern must be a non-empty regular expression string (got {pattern!r})")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None


def regex_extract(rx: re.Pattern[str], text: str) -> str | None:
    """First match of ``rx`` in ``text``: its first group that took part, else the whole match."""
    m = rx.search(text)
    if m is None:
        return None
    if rx.groups:
        for g in m.groups():
            if g is not None:
                return g
        return None
    return m.group(0)


# --- label sets -------------------------------------------------------------------------------


def load_labels(value: Any, base_dir: Path | None) -> list[str]:
    """A label list from a list, or a file path (``.json`` array, or text with one label a line)."""
    if isinstance(value, str):
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ValueError(f"labels: file not found: {path}")
        if path.suffix.lower() == ".json":
            loaded = read_json_file(path, error=ValueError, label="labels: ")
            if not isinstance(loaded, list):
                raise ValueError(f"labels: {path} must hold a JSON array of strings")
            items: Sequence[Any] = loaded
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"labels: cannot read {path}: {exc}") from None
            items = [line.strip() for line in text.splitlines() if line.strip()]
        where = str(path)
    elif isinstance(value, list | tuple):
        items, where = value, "labels"
    else:
        raise ValueError(f"labels must be a list of strings or a file path (got {type(value).__name__})")
    labels: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(f"labels: item {i} of {where} is not a string: {item!r}")
        s = str(item).strip()
        if not s:
            raise ValueError(f"labels: item {i} of {where} is empty")
        labels.append(s)
    if not labels:
        raise ValueError(f"labels: {where} holds no labels")
    return labels


_SEPARATORS = re.compile(r"[\s_\-]+")


class LabelSet:
    """A closed set of labels and the rule for reading one from free text.

    Labels are compared on a *key*: the normalised text with ``_``, ``-`` and whitespace runs
    made one space, so ``card_arrival``, ``Card arrival`` and ``card-arrival`` are the same label.
    """

    def __init__(self, labels: Iterable[str], normalizer: Normalizer) -> None:
        self.normalizer = normalizer
        # Free text is searched with the same normalisation minus the stripping of ends
        # (a label is looked for inside the text, not as the whole of it).
        self._searcher = Normalizer(
            case_sensitive=normalizer.case_sensitive,
            strip=True,
            punctuation="all" if normalizer.punctuation == "all" else "none",
            nfkc=normalizer.nfkc,
        )
        self.by_key: dict[str, str] = {}
        for label in labels:
            key = self.key(label)
            if not key:
                raise ValueError(f"labels: {label!r} is empty after normalisation")
            other = self.by_key.get(key)
            if other is not None and other != label:
                raise ValueError(f"labels: {other!r} and {label!r} are the same label after normalisation")
            self.by_key[key] = label
        # Longest first, so a longer label wins over one it contains ("card payment wrong
        # exchange rate" over "exchange rate").
        keys = sorted(self.by_key, key=len, reverse=True)
        alternatives = "|".join(r"\s".join(re.escape(w) for w in k.split(" ")) for k in keys)
        self._finder = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")

    def key(self, text: str) -> str:
        spaced = _SEPARATORS.sub(" ", text)
        return collapse_ws(_SEPARATORS.sub(" ", self.normalizer(spaced)))

    def _search_text(self, text: str) -> str:
        spaced = _SEPARATORS.sub(" ", text)
        return collapse_ws(_SEPARATORS.sub(" ", self._searcher(spaced)))

    def canonical(self, text: str) -> str | None:
        """The label ``text`` is (whole-text match after normalisation), else ``None``."""
        return self.by_key.get(self.key(text))

    def mentioned(self, text: str) -> list[str]:
        """Labels appearing in ``text`` as whole words/phrases, in order of first mention, distinct.

        Matching is leftmost-longest and non-overlapping, so a label inside a longer mentioned
        label is not counted separately.
        """
        found: list[str] = []
        for m in self._finder.finditer(self._search_text(text)):
            label = self.by_key.get(m.group(0))
            if label is not None and label not in found:
                found.append(label)
        return found

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.canonical(text) is not None

    def __len__(self) -> int:
        return len(self.by_key)


def clip(text: str | None, limit: int = 120) -> str:
    """``text`` shortened for an explanation, with an ellipsis when cut."""
    if text is None:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def apostrophes(text: str) -> str:
    """Curly and modifier apostrophes made plain ``'``."""
    return text.translate(_APOSTROPHES)
