"""IFEval's format, combination, start/end, case and punctuation instructions (14 of the 25 kinds).

Each check restates the definition of IFEval's ``instructions.py`` (google-research
``instruction_following_eval``); where this code departs from it the class docstring says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import ClassVar

import evalkit.scorers._ifeval.language as language
import evalkit.scorers._ifeval.text as text
from evalkit.scorers._ifeval.base import (
    Instruction,
    Outcome,
    Parser,
    compare,
    count_arg,
    quote,
    raw_text_arg,
    relation_arg,
    text_arg,
    times,
)

CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")

_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")


@dataclass(frozen=True)
class BulletLists(Instruction):
    """``detectable_format:number_bullet_lists``: exactly n lines that start (after whitespace) with
    ``*`` not followed by another ``*``, or with ``-`` (so a ``---`` rule counts, ``**bold**`` does not)."""

    kind: ClassVar[str] = "detectable_format:number_bullet_lists"
    ARGS: ClassVar[dict[str, Parser]] = {"num_bullets": count_arg}
    num_bullets: int

    def check(self, value: str) -> Outcome:
        n = text.count_bullets(value, "*") + text.count_bullets(value, "-")
        return Outcome(
            n == self.num_bullets,
            times(n, "bullet point"),
            f"exactly {times(self.num_bullets, 'bullet point')} (* or -)",
        )


@dataclass(frozen=True)
class ConstrainedResponse(Instruction):
    """``detectable_format:constrained_response``: the text contains one of the three fixed answers."""

    kind: ClassVar[str] = "detectable_format:constrained_response"

    def check(self, value: str) -> Outcome:
        stripped = value.strip()
        hit = next((o for o in CONSTRAINED_OPTIONS if o in stripped), None)
        wanted = "one of " + ", ".join(quote(o) for o in CONSTRAINED_OPTIONS)
        return Outcome(
            hit is not None, f"contains {quote(hit)}" if hit else "none of the three answers", wanted
        )


@dataclass(frozen=True)
class HighlightedSections(Instruction):
    """``detectable_format:number_highlighted_sections``: at least n non-blank ``*spans*`` on one line.

    As in IFEval, ``*a*`` and ``**a**`` count once each: the single-star pattern finds only the
    blank ``**`` pairs inside ``**a**``, which do not count."""

    kind: ClassVar[str] = "detectable_format:number_highlighted_sections"
    ARGS: ClassVar[dict[str, Parser]] = {"num_highlights": count_arg}
    num_highlights: int

    def check(self, value: str) -> Outcome:
        n = sum(1 for h in _HIGHLIGHT.findall(value) if h.strip("*").strip())
        n += sum(
            1 for h in _DOUBLE_HIGHLIGHT.findall(value) if h.removeprefix("**").removesuffix("**").strip()
        )
        return Outcome(
            n >= self.num_highlights,
            times(n, "highlighted section"),
            f"at least {times(self.num_highlights, 'highlighted section')} (*like this*)",
        )


@dataclass(frozen=True)
class MultipleSections(Instruction):
    """``detectable_format:multiple_sections``: at least n places where the splitter word (case as
    given) is followed by a number, e.g. ``SECTION 1``. The splitter is literal text here (IFEval:
    a pattern)."""

    kind: ClassVar[str] = "detectable_format:multiple_sections"
    ARGS: ClassVar[dict[str, Parser]] = {"section_spliter": text_arg, "num_sections": count_arg}
    section_spliter: str
    num_sections: int

    def check(self, value: str) -> Outcome:
        rx = r"\s?" + re.escape(self.section_spliter) + r"\s?\d+\s?"
        n = len(re.split(rx, value)) - 1
        return Outcome(
            n >= self.num_sections,
            times(n, "section") + f" marked {self.section_spliter} N",
            f"at least {times(self.num_sections, 'section')} marked {self.section_spliter} N",
        )


@dataclass(frozen=True)
class JsonFormat(Instruction):
    """``detectable_format:json_format``: after stripping, and dropping one leading ```` ```json ````
    (or ```` ```Json ````, ```` ```JSON ````, ```` ``` ````) and one trailing ```` ``` ````, the text
    parses with Python's ``json.loads`` (which also takes ``NaN`` and ``Infinity``)."""

    kind: ClassVar[str] = "detectable_format:json_format"

    def check(self, value: str) -> Outcome:
        body = value.strip()
        for fence in ("```json", "```Json", "```JSON", "```"):
            body = body.removeprefix(fence)
        body = body.removesuffix("```").strip()
        try:
            json.loads(body)
        except ValueError as exc:
            return Outcome(False, f"not JSON ({str(exc).splitlines()[0][:80]})", "the whole response as JSON")
        except RecursionError:
            return Outcome(False, "not JSON (nested too deeply to parse)", "the whole response as JSON")
        return Outcome(True, "valid JSON", "the whole response as JSON")


@dataclass(frozen=True)
class Title(Instruction):
    """``detectable_format:title``: a ``<<title>>`` with non-blank text, on one line."""

    kind: ClassVar[str] = "detectable_format:title"

    def check(self, value: str) -> Outcome:
        found = text.has_title(value)
        return Outcome(found is not None, f"title {quote(found)}" if found else "no <<title>>", "a <<title>>")


@dataclass(frozen=True)
class TwoResponses(Instruction):
    """``combination:two_responses``: split at ``******``, exactly two non-blank pieces that differ
    (after stripping); a blank piece between two separators fails."""

    kind: ClassVar[str] = "combination:two_responses"

    def check(self, value: str) -> Outcome:
        wanted = "two different responses separated by ******"
        pieces = value.split("******")
        answers = []
        for i, piece in enumerate(pieces):
            if piece.strip():
                answers.append(piece)
            elif i not in (0, len(pieces) - 1):
                return Outcome(False, "an empty response between two ****** separators", wanted)
        if len(answers) == 2 and answers[0].strip() == answers[1].strip():
            return Outcome(False, "two identical responses", wanted)
        return Outcome(len(answers) == 2, times(len(answers), "response"), wanted)


@dataclass(frozen=True)
class RepeatPrompt(Instruction):
    """``combination:repeat_prompt``: the stripped text starts with the stripped request, ignoring case."""

    kind: ClassVar[str] = "combination:repeat_prompt"
    ARGS: ClassVar[dict[str, Parser]] = {"prompt_to_repeat": raw_text_arg}
    prompt_to_repeat: str

    def check(self, value: str) -> Outcome:
        want = self.prompt_to_repeat.strip().lower()
        got = value.strip().lower()
        if got.startswith(want):
            return Outcome(True, "starts with the request", "the request repeated word for word first")
        same = 0
        for a, b in zip(got, want, strict=False):
            if a != b:
                break
            same += 1
        found = f"differs from the request at character {same + 1} ({quote(value.strip()[same : same + 30])})"
        return Outcome(False, found, "the request repeated word for word first")


@dataclass(frozen=True)
class EndChecker(Instruction):
    """``startend:end_checker``: the text, stripped of whitespace and then of ``"``, ends with the
    phrase, ignoring case."""

    kind: ClassVar[str] = "startend:end_checker"
    ARGS: ClassVar[dict[str, Parser]] = {"end_phrase": text_arg}
    end_phrase: str

    def check(self, value: str) -> Outcome:
        end = value.strip().strip('"').lower()
        ok = end.endswith(self.end_phrase.lower())
        tail = value.strip().strip('"')[-len(self.end_phrase) - 10 :]
        return Outcome(
            ok,
            "ends with the phrase" if ok else f"ends with {quote(tail)}",
            f"end with {quote(self.end_phrase)}",
        )


@dataclass(frozen=True)
class Quotation(Instruction):
    """``startend:quotation``: the stripped text starts and ends with ``"`` (and is longer than one character)."""

    kind: ClassVar[str] = "startend:quotation"

    def check(self, value: str) -> Outcome:
        v = value.strip()
        ok = len(v) > 1 and v[0] == '"' and v[-1] == '"'
        found = "wrapped in double quotes" if ok else f"starts {quote(v[:1])}, ends {quote(v[-1:])}"
        return Outcome(ok, found, 'the whole response wrapped in "double quotes"')


@dataclass(frozen=True)
class CapitalWordFrequency(Instruction):
    """``change_case:capital_word_frequency``: tokens written in capitals (see ``text``) vs the threshold."""

    kind: ClassVar[str] = "change_case:capital_word_frequency"
    ARGS: ClassVar[dict[str, Parser]] = {"capital_frequency": count_arg, "capital_relation": relation_arg}
    capital_frequency: int
    capital_relation: str

    def check(self, value: str) -> Outcome:
        words = text.capital_words(value)
        n = len(words)
        shown = f" ({', '.join(words[:5])}{', ...' if n > 5 else ''})" if words else ""
        return Outcome(
            compare(n, self.capital_relation, self.capital_frequency),
            times(n, "capital word") + shown,
            f"{self.capital_relation} {times(self.capital_frequency, 'capital word')}",
        )


def _lang_found(value: str) -> tuple[bool, str]:
    got = language.detect(value)
    if got is language.UNDETECTABLE:
        return True, "language not identifiable (counted as English, as in IFEval)"
    return got == "en", f"language {got!r}"


@dataclass(frozen=True)
class EnglishCapital(Instruction):
    """``change_case:english_capital``: ``str.isupper()`` (no lower-case letter) and langdetect says English."""

    kind: ClassVar[str] = "change_case:english_capital"

    def check(self, value: str) -> Outcome:
        wanted = "English, all in capital letters"
        if not value.isupper():
            lower = next((w for w in value.split() if any(c.islower() for c in w)), "")
            return Outcome(False, f"has lower-case letters ({quote(lower, 30)})", wanted)
        ok, found = _lang_found(value)
        return Outcome(ok, found, wanted)


@dataclass(frozen=True)
class EnglishLowercase(Instruction):
    """``change_case:english_lowercase``: ``str.islower()`` (no capital letter) and langdetect says English."""

    kind: ClassVar[str] = "change_case:english_lowercase"

    def check(self, value: str) -> Outcome:
        wanted = "English, all in lower-case letters"
        if not value.islower():
            upper = next((w for w in value.split() if any(c.isupper() for c in w)), "")
            return Outcome(False, f"has capital letters ({quote(upper, 30)})", wanted)
        ok, found = _lang_found(value)
        return Outcome(ok, found, wanted)


@dataclass(frozen=True)
class NoComma(Instruction):
    """``punctuation:no_comma``: no ``,`` (U+002C; other commas such as ``，`` are not counted, as in IFEval)."""

    kind: ClassVar[str] = "punctuation:no_comma"

    def check(self, value: str) -> Outcome:
        n = value.count(",")
        if not n:
            return Outcome(True, "no commas", "no commas")
        i = value.index(",")
        return Outcome(
            False, f"{times(n, 'comma')} (first: {quote(value[max(0, i - 25) : i + 1])})", "no commas"
        )


FORMAT_KINDS: tuple[type[Instruction], ...] = (
    BulletLists,
    ConstrainedResponse,
    HighlightedSections,
    MultipleSections,
    JsonFormat,
    Title,
    TwoResponses,
    RepeatPrompt,
    EndChecker,
    Quotation,
    CapitalWordFrequency,
    EnglishCapital,
    EnglishLowercase,
    NoComma,
)
