"""IFEval's keyword, language, length and content instructions (11 of the 25 kinds).

Each check restates the definition of IFEval's ``instructions.py`` (google-research
``instruction_following_eval``); where this code departs from it the class docstring says so.
Keywords are matched as literal text (IFEval passes them to ``re`` as patterns; no IFEval keyword
contains a pattern character, and a literal match cannot raise or run away on hostile input).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import evalkit.scorers._ifeval.language as language
import evalkit.scorers._ifeval.text as text
from evalkit.scorers._ifeval.base import (
    Instruction,
    InstructionError,
    Outcome,
    Parser,
    compare,
    count_arg,
    quote,
    relation_arg,
    text_arg,
    times,
    words_arg,
)

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi", "fr": "French",
    "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian", "bn": "Bengali", "uk": "Ukrainian",
    "th": "Thai", "ur": "Urdu", "ta": "Tamil", "te": "Telugu", "bg": "Bulgarian", "ko": "Korean",
    "pl": "Polish", "he": "Hebrew", "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili",
    "kn": "Kannada", "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}  # fmt: skip
"""IFEval's ``LANGUAGE_CODES`` (the 30 languages its prompts ask for), for explanations."""


def _contains(needle: str, haystack: str) -> bool:
    return re.search(re.escape(needle), haystack, flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class KeywordExistence(Instruction):
    """``keywords:existence``: every keyword occurs, ignoring case, anywhere (``cat`` is in ``category``)."""

    kind: ClassVar[str] = "keywords:existence"
    ARGS: ClassVar[dict[str, Parser]] = {"keywords": words_arg}
    keywords: tuple[str, ...]

    def check(self, value: str) -> Outcome:
        missing = [k for k in sorted(self.keywords) if not _contains(k, value)]
        wanted = "all of " + ", ".join(quote(k) for k in sorted(self.keywords))
        found = "missing " + ", ".join(quote(k) for k in missing) if missing else "all present"
        return Outcome(not missing, found, wanted)


@dataclass(frozen=True)
class KeywordFrequency(Instruction):
    """``keywords:frequency``: non-overlapping occurrences of the keyword, ignoring case, vs the threshold."""

    kind: ClassVar[str] = "keywords:frequency"
    ARGS: ClassVar[dict[str, Parser]] = {
        "keyword": text_arg,
        "frequency": count_arg,
        "relation": relation_arg,
    }
    keyword: str
    frequency: int
    relation: str

    def check(self, value: str) -> Outcome:
        n = len(re.findall(re.escape(self.keyword), value, flags=re.IGNORECASE))
        return Outcome(
            compare(n, self.relation, self.frequency),
            f"{quote(self.keyword)} {times(n)}",
            f"{self.relation} {times(self.frequency)}",
        )


@dataclass(frozen=True)
class ForbiddenWords(Instruction):
    """``keywords:forbidden_words``: none of the words occurs as a whole word (``\\b`` on both sides), any case."""

    kind: ClassVar[str] = "keywords:forbidden_words"
    ARGS: ClassVar[dict[str, Parser]] = {"forbidden_words": words_arg}
    forbidden_words: tuple[str, ...]

    def check(self, value: str) -> Outcome:
        words = sorted(set(self.forbidden_words))
        used = [w for w in words if re.search(r"\b" + re.escape(w) + r"\b", value, flags=re.IGNORECASE)]
        found = "uses " + ", ".join(quote(w) for w in used) if used else "none used"
        return Outcome(not used, found, "none of " + ", ".join(quote(w) for w in words))


def _letter_arg(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value.strip()) != 1:
        raise InstructionError(f"{name} must be a single character (got {value!r})")
    return value.strip().lower()


@dataclass(frozen=True)
class LetterFrequency(Instruction):
    """``keywords:letter_frequency``: how often the character occurs, ignoring case, vs the threshold.

    Any single character is accepted, as in IFEval's current code (two IFEval rows ask for ``#``
    and ``!``; an older copy, lm-evaluation-harness's, swaps a non-letter for a random letter)."""

    kind: ClassVar[str] = "keywords:letter_frequency"
    ARGS: ClassVar[dict[str, Parser]] = {
        "letter": _letter_arg,
        "let_frequency": count_arg,
        "let_relation": relation_arg,
    }
    letter: str
    let_frequency: int
    let_relation: str

    def check(self, value: str) -> Outcome:
        n = value.lower().count(self.letter)
        return Outcome(
            compare(n, self.let_relation, self.let_frequency),
            f"{quote(self.letter)} {times(n)}",
            f"{self.let_relation} {times(self.let_frequency)}",
        )


def _language_arg(name: str, value: object) -> str:
    code = text_arg(name, value)
    if code not in language.CODES:
        raise InstructionError(f"{name} {code!r} is not a language code langdetect can identify")
    return code


@dataclass(frozen=True)
class ResponseLanguage(Instruction):
    """``language:response_language``: langdetect's language of the whole response is the one asked for.

    When langdetect cannot tell (no letters), IFEval counts the instruction followed; so does this."""

    kind: ClassVar[str] = "language:response_language"
    ARGS: ClassVar[dict[str, Parser]] = {"language": _language_arg}
    language: str

    def check(self, value: str) -> Outcome:
        got = language.detect(value)
        name = LANGUAGE_NAMES.get(self.language)
        wanted = f"language {self.language!r}" + (f" ({name})" if name else "")
        if got is language.UNDETECTABLE:
            return Outcome(True, "language not identifiable (counted as followed, as in IFEval)", wanted)
        return Outcome(got == self.language, f"language {got!r}", wanted)


@dataclass(frozen=True)
class NumberOfSentences(Instruction):
    """``length_constraints:number_sentences``: Punkt's sentence count (see ``text``) vs the threshold."""

    kind: ClassVar[str] = "length_constraints:number_sentences"
    ARGS: ClassVar[dict[str, Parser]] = {"num_sentences": count_arg, "relation": relation_arg}
    num_sentences: int
    relation: str

    def check(self, value: str) -> Outcome:
        n = text.count_sentences(value)
        return Outcome(
            compare(n, self.relation, self.num_sentences),
            times(n, "sentence"),
            f"{self.relation} {times(self.num_sentences, 'sentence')}",
        )


@dataclass(frozen=True)
class NumberOfParagraphs(Instruction):
    """``length_constraints:number_paragraphs``: exactly n paragraphs between ``***`` dividers.

    The text is split at ``***`` (with one optional whitespace character either side); an empty
    piece at the start or the end is not counted, an empty piece in between fails the check."""

    kind: ClassVar[str] = "length_constraints:number_paragraphs"
    ARGS: ClassVar[dict[str, Parser]] = {"num_paragraphs": count_arg}
    num_paragraphs: int

    def check(self, value: str) -> Outcome:
        pieces = re.split(r"\s?\*\*\*\s?", value)
        wanted = f"exactly {times(self.num_paragraphs, 'paragraph')} separated by ***"
        n = len(pieces)
        for i, piece in enumerate(pieces):
            if not piece.strip():
                if i in (0, len(pieces) - 1):
                    n -= 1
                else:
                    return Outcome(False, "an empty paragraph between two *** dividers", wanted)
        return Outcome(n == self.num_paragraphs, times(n, "paragraph"), wanted)


@dataclass(frozen=True)
class NumberOfWords(Instruction):
    """``length_constraints:number_words``: ``\\w+`` runs (see ``text``) vs the threshold."""

    kind: ClassVar[str] = "length_constraints:number_words"
    ARGS: ClassVar[dict[str, Parser]] = {"num_words": count_arg, "relation": relation_arg}
    num_words: int
    relation: str

    def check(self, value: str) -> Outcome:
        n = text.count_words(value)
        return Outcome(
            compare(n, self.relation, self.num_words),
            times(n, "word"),
            f"{self.relation} {times(self.num_words, 'word')}",
        )


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    out = []
    for ch in word:
        if ch in ".,?!'\"":
            break
        out.append(ch.lower())
    return "".join(out)


@dataclass(frozen=True)
class NthParagraphFirstWord(Instruction):
    """``length_constraints:nth_paragraph_first_word``: n paragraphs split by blank lines (``\\n\\n``),
    and paragraph i starts with the word (lower-cased, leading quotes and trailing punctuation dropped).

    As in IFEval, blank pieces are not counted, but paragraph i is looked up among all pieces,
    blank ones included (so ``\\n\\n\\n\\n`` between paragraphs shifts the numbering)."""

    kind: ClassVar[str] = "length_constraints:nth_paragraph_first_word"
    ARGS: ClassVar[dict[str, Parser]] = {
        "num_paragraphs": count_arg,
        "nth_paragraph": count_arg,
        "first_word": text_arg,
    }
    num_paragraphs: int
    nth_paragraph: int
    first_word: str

    def __post_init__(self) -> None:
        if not 1 <= self.nth_paragraph <= self.num_paragraphs:
            raise InstructionError(
                f"nth_paragraph must be between 1 and num_paragraphs ({self.num_paragraphs}); "
                f"got {self.nth_paragraph}"
            )

    def check(self, value: str) -> Outcome:
        pieces = re.split(r"\n\n", value)
        n = sum(1 for p in pieces if p.strip())
        want_word = self.first_word.lower()
        wanted = f"{times(self.num_paragraphs, 'paragraph')}, paragraph {self.nth_paragraph} starting with {want_word!r}"
        if self.nth_paragraph > n:
            return Outcome(False, f"{times(n, 'paragraph')}, no paragraph {self.nth_paragraph}", wanted)
        paragraph = pieces[self.nth_paragraph - 1].strip()
        if not paragraph:
            return Outcome(False, f"{times(n, 'paragraph')}, paragraph {self.nth_paragraph} is blank", wanted)
        word = _first_word(paragraph)
        return Outcome(
            n == self.num_paragraphs and word == want_word,
            f"{times(n, 'paragraph')}, paragraph {self.nth_paragraph} starts with {word!r}",
            wanted,
        )


@dataclass(frozen=True)
class Placeholders(Instruction):
    """``detectable_content:number_placeholders``: at least n ``[...]`` on one line each."""

    kind: ClassVar[str] = "detectable_content:number_placeholders"
    ARGS: ClassVar[dict[str, Parser]] = {"num_placeholders": count_arg}
    num_placeholders: int

    def check(self, value: str) -> Outcome:
        n = text.count_placeholders(value)
        return Outcome(
            n >= self.num_placeholders,
            times(n, "placeholder"),
            f"at least {times(self.num_placeholders, 'placeholder')} in [square brackets]",
        )


@dataclass(frozen=True)
class Postscript(Instruction):
    """``detectable_content:postscript``: the marker occurs anywhere, ignoring case.

    ``P.S.`` also matches ``p. s.``; ``P.P.S`` also ``p. p. s`` (IFEval's two patterns); another
    marker is matched as literal text (IFEval: as a pattern). IFEval's patterns end in ``.*$``
    and begin with ``\\s*``, which never change whether there is a match, so they are left out."""

    kind: ClassVar[str] = "detectable_content:postscript"
    ARGS: ClassVar[dict[str, Parser]] = {"postscript_marker": text_arg}
    postscript_marker: str

    def check(self, value: str) -> Outcome:
        lowered = value.lower()
        if self.postscript_marker == "P.P.S":
            pattern = r"p\.\s?p\.\s?s"
        elif self.postscript_marker == "P.S.":
            pattern = r"p\.\s?s\."
        else:
            pattern = re.escape(self.postscript_marker.lower())
        m = re.search(pattern, lowered)
        found = f"{quote(lowered[m.start() : m.end()])} found" if m else "no postscript marker"
        return Outcome(m is not None, found, f"a postscript starting with {quote(self.postscript_marker)}")


TEXT_KINDS: tuple[type[Instruction], ...] = (
    KeywordExistence,
    KeywordFrequency,
    ForbiddenWords,
    LetterFrequency,
    ResponseLanguage,
    NumberOfSentences,
    NumberOfParagraphs,
    NumberOfWords,
    NthParagraphFirstWord,
    Placeholders,
    Postscript,
)
