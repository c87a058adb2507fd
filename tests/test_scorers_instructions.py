"""The ``instructions`` scorer (IFEval): one table per instruction kind, the loose variants, the
tokenisation that replaces NLTK, the scorer's classes, its accumulator, and every shipped row.

Instructions and their arguments are real IFEval rows (``suites/data/ifeval.jsonl``, by ``key``
and position); the responses are written for the test from the paper's definitions. Each table
row was also run through IFEval's reference code (see ``docs/scorers.md``) and agrees with it.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import ConfigError
from evalkit.scorers import build_scorer
from evalkit.scorers._ifeval import KINDS, LOOSE_VARIANTS, InstructionError, build, evaluate, loose_variants
from evalkit.scorers._ifeval import text as T
from evalkit.scorers.metrics.instructions import InstructionsAccumulator
from evalkit.types import Sample, Score

DATA = Path(__file__).resolve().parent.parent / "suites" / "data" / "ifeval.jsonl"
ROWS: dict[int, dict[str, Any]] = {r["key"]: r for r in map(json.loads, DATA.read_text("utf-8").splitlines())}


def ins(key: int, index: int = 0) -> tuple[str, dict[str, Any]]:
    row = ROWS[key]
    return row["instruction_id_list"][index], row["kwargs"][index]


def followed(key: int, index: int, response: str) -> bool:
    iid, kwargs = ins(key, index)
    return evaluate(iid, build(iid, kwargs), response, loose_variants(response)).strict.followed


def table(*rows: tuple[Any, ...]) -> Any:
    return pytest.mark.parametrize(
        ("key", "index", "response", "want"), [pytest.param(*r[:4], id=r[4]) for r in rows]
    )


LOREM = "The quick brown fox jumps over the lazy dog. "


# --- keywords ---------------------------------------------------------------------------------------


@table(
    (1069, 0, "We are experiencing issues that are correlated.", True, "both"),
    (1069, 0, "EXPERIENCING things, CORRELATED things", True, "any-case"),
    (1069, 0, "uncorrelatedness while experiencing", True, "substring-counts"),
    (1069, 0, "We are experiencing issues.", False, "one-missing"),
    (1139, 1, "My mother, my mom.", True, "mom-mother"),
    (1139, 1, "My mum and my father.", False, "neither"),
)
def test_keywords_existence(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1153, 1, "A story within a story.", True, "story-twice"),
    (1153, 1, "STORY and storyteller", True, "substring-and-case"),
    (1153, 1, "One story only.", False, "once"),
    (1342, 0, "I love taking pictures.", True, "less-than-1-none"),
    (1342, 0, "Photography is fun.", False, "less-than-1-once"),
)
def test_keywords_frequency(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1132, 1, "I like jazz and blues.", True, "absent"),
    (1132, 1, "We ROCK all night.", False, "whole-word-any-case"),
    (1132, 1, "rocks and rocky roads", True, "not-a-whole-word"),
    (1132, 1, "rock-solid", False, "hyphen-is-a-boundary"),
)
def test_keywords_forbidden_words(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1122, 1, "#one #two #three #four", True, "hash-4"),
    (1122, 1, "#one #two #three", False, "hash-3"),
    (1129, 0, "Wow! Yes! Great! Fine! Go! Now!", True, "bang-6"),
    (1130, 0, "Hello world", True, "t-less-than-2-none"),
    (1130, 0, "That cat", False, "t-3-any-case"),
    (2779, 0, "Quiet queen quits quickly", True, "q-4-less-than-5"),
)
def test_keywords_letter_frequency(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- language ---------------------------------------------------------------------------------------

GERMAN = "Das ist ein kurzer Text auf Deutsch. Wir schreiben über das Wetter und die Stadt, in der wir leben."
HINDI = "यह हिंदी में एक छोटा सा पाठ है। हम मौसम और उस शहर के बारे में लिखते हैं जिसमें हम रहते हैं।"
SWAHILI = "Hii ni maandishi mafupi kwa Kiswahili. Tunaandika kuhusu hali ya hewa na mji tunaoishi."


@table(
    (3682, 0, GERMAN, True, "de"),
    (
        3682,
        0,
        "This is a short English text about the weather in the city where we live.",
        False,
        "en-not-de",
    ),
    (2464, 0, HINDI, True, "hi"),
    (2299, 0, SWAHILI, True, "sw"),
    (2299, 0, GERMAN, False, "de-not-sw"),
    (2299, 0, "12345 67890 !!!", True, "no-letters-counts-as-followed"),
)
def test_language_response_language(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- length constraints -----------------------------------------------------------------------------


@table(
    (1174, 1, "One. Two. Three. Four. Five.", True, "5-less-than-6"),
    (1174, 1, "One. Two. Three. Four. Five. Six.", False, "6"),
    (
        1174,
        1,
        "# Heading\n\n* bullet one\n* bullet two\n\nOne. Two. Three. Four. Five.",
        True,
        "lines-are-not-sentences",
    ),
    (
        1174,
        1,
        "Dr. Smith met Mr. Jones in the U.S. on Monday. They talked. A lot. Really. Yes. Fine.",
        False,
        "abbreviations",
    ),
    (1265, 1, "Yes. " * 31, True, "31-at-least-31"),
    (1265, 1, "Yes. " * 30, False, "30"),
)
def test_length_number_sentences(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1082, 0, "First paragraph.\n***\nSecond paragraph.", True, "two"),
    (1082, 0, "***\nFirst paragraph.\n***\nSecond paragraph.\n***", True, "edge-dividers-ignored"),
    (1082, 0, "First.\n***\n\n***\nSecond.", False, "empty-middle"),
    (1082, 0, "First paragraph.\n\nSecond paragraph.", False, "blank-line-is-not-a-divider"),
    (1236, 0, "a *** b *** c", True, "inline-three"),
)
def test_length_number_paragraphs(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1000, 2, "word " * 300, True, "300-at-least-300"),
    (1000, 2, "word " * 299, False, "299"),
    (1000, 2, "it's " * 150, True, "apostrophe-splits-a-word"),
    (1092, 0, "word " * 299, True, "299-less-than-300"),
    (1092, 0, "word-" * 300, False, "hyphen-splits-a-word"),
)
def test_length_number_words(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


P = "Some text here."


@table(
    (1609, 0, f"Weekend plans.\n\n{P}\n\n{P}\n\n{P}", True, "first-of-4"),
    (1609, 0, f'"Weekend," she said.\n\n{P}\n\n{P}\n\n{P}', True, "quote-and-comma-stripped"),
    (1609, 0, f"Weekends are fun.\n\n{P}\n\n{P}\n\n{P}", False, "weekends-is-another-word"),
    (1609, 0, f"Weekend plans.\n\n{P}\n\n{P}", False, "three-paragraphs"),
    (181, 0, f"{P}\n\nPresident Lincoln.\n\n{P}\n\n{P}\n\n{P}\n\n{P}", True, "second-of-6"),
    (
        181,
        0,
        f"{P}\n\n\n\nPresident Lincoln.\n\n{P}\n\n{P}\n\n{P}\n\n{P}",
        False,
        "blank-piece-shifts-numbering",
    ),
)
def test_length_nth_paragraph_first_word(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- detectable content -----------------------------------------------------------------------------


@table(
    (1372, 0, "[a] [b] [c] [d] [e] [f] [g]", True, "seven"),
    (1372, 0, "[a] [b] [c] [d] [e] [f]", False, "six"),
    (1372, 0, "[a][b][c][d][e][f][g]", True, "adjacent"),
    (1372, 0, "[a\n] [b] [c] [d] [e] [f] [g]", False, "not-across-lines"),
    (1372, 0, "[[a]] [] [] [] [] [] []", True, "nested-and-empty-count"),
)
def test_content_number_placeholders(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1219, 1, f"{LOREM}\n\nP.S. Call me.", True, "ps"),
    (1219, 1, f"{LOREM}\n\np. s. call me", True, "spaced-lower"),
    (1219, 1, f"{LOREM}\n\nPS call me", False, "no-dots"),
    (1246, 0, f"{LOREM}\n\nP.P.S. One more thing.", True, "pps"),
    (1246, 0, f"{LOREM}\n\nP.S. One more thing.", False, "ps-is-not-pps"),
)
def test_content_postscript(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- detectable format ------------------------------------------------------------------------------


@table(
    (102, 0, "* one\n* two\n* three", True, "three-stars"),
    (102, 0, "- one\n  - two\n* three", True, "dashes-and-indent"),
    (102, 0, "* one\n* two", False, "two"),
    (102, 0, "**Bold** intro\n* one\n* two\n* three", True, "bold-line-is-not-a-bullet"),
    (102, 0, "* one\n* two\n* three\n---", False, "a-rule-counts-as-a-dash"),
    (102, 0, "• one\n• two\n• three", False, "round-bullets-do-not-count"),
)
def test_format_number_bullet_lists(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (227, 0, "My answer is yes.", True, "yes"),
    (227, 0, "Well... My answer is maybe. Here is why.", True, "contained"),
    (227, 0, "My answer is Yes.", False, "case-matters"),
    (227, 0, "My answer is yes", False, "period-required"),
)
def test_format_constrained_response(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1000, 1, "*one* and *two* and *three*", True, "three"),
    (1000, 1, "*one* and *two*", False, "two"),
    (1000, 1, "**one** **two** *three*", True, "bold-counts-once"),
    (1000, 1, "**one** and *two*", False, "bold-is-not-two"),
    (1000, 1, "* * and ** ** and *one*", False, "blank-spans-do-not-count"),
    (1000, 1, "*one\ntwo* *three* *four*", False, "not-across-lines"),
)
def test_format_number_highlighted_sections(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1127, 0, "SECTION 1\na\nSECTION 2\nb\nSECTION 3\nc\nSECTION 4\nd", True, "four"),
    (1127, 0, "SECTION 1\na\nSECTION 2\nb\nSECTION 3\nc", False, "three"),
    (1127, 0, "Section 1\na\nSection 2\nb\nSection 3\nc\nSection 4\nd", False, "case-matters"),
    (3324, 1, "".join(f"Day {i}: rest.\n" for i in range(1, 8)), True, "day-7"),
    (3324, 1, "".join(f"Day{i}: rest.\n" for i in range(1, 8)), True, "no-space-needed"),
)
def test_format_multiple_sections(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1075, 0, '{"a": 1}', True, "object"),
    (1075, 0, '```json\n{"a": [1, 2]}\n```', True, "fenced"),
    (1075, 0, "```JSON\n[1, 2]\n```", True, "fenced-upper"),
    (1075, 0, 'Here it is:\n```json\n{"a": 1}\n```', False, "prose-before"),
    (1075, 0, "{'a': 1}", False, "single-quotes"),
    (1075, 0, "[" * 100000, False, "deep-nesting-does-not-raise"),
)
def test_format_json_format(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1012, 1, "<<Resignation Notice>>\n\nDear Boss,", True, "title"),
    (1012, 1, "<< >>\nDear Boss", False, "blank-title"),
    (1012, 1, "<<Resignation\nNotice>>", False, "not-across-lines"),
    (1012, 1, "# Resignation Notice", False, "markdown-heading"),
    (1012, 1, "<<<<Deep>>>>", True, "extra-brackets"),
)
def test_format_title(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- combination ------------------------------------------------------------------------------------


@table(
    (1098, 0, "First answer.\n******\nSecond answer.", True, "two"),
    (1098, 0, "******\nFirst.\n******\nSecond.\n******", True, "edge-separators"),
    (1098, 0, "Same.\n******\nSame.", False, "identical"),
    (1098, 0, "One.\n******\n******\nTwo.", False, "empty-between"),
    (1098, 0, "One.\n******\nTwo.\n******\nThree.", False, "three"),
)
def test_combination_two_responses(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


REPEAT = ROWS[1012]["kwargs"][0]["prompt_to_repeat"]


@table(
    (1012, 0, REPEAT + "\n\n<<Resignation>>\nDear Boss...", True, "repeated"),
    (1012, 0, "  " + REPEAT.upper() + " Then the email.", True, "case-and-space-ignored"),
    (1012, 0, "Sure! " + REPEAT, False, "words-before"),
    (1012, 0, REPEAT[:-1], False, "truncated"),
)
def test_combination_repeat_prompt(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- start / end ------------------------------------------------------------------------------------


@table(
    (1128, 0, "Done. Is there anything else I can help with?", True, "ends"),
    (1128, 0, 'Done. "Is there anything else I can help with?"\n', True, "quotes-and-space-stripped"),
    (1128, 0, "Done. is there anything else i can help with?", True, "case-ignored"),
    (1128, 0, "Is there anything else I can help with? Bye.", False, "words-after"),
    (1893, 0, "We are done. Peace!", True, "peace"),
)
def test_startend_end_checker(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1216, 0, '"All of it."', True, "wrapped"),
    (1216, 0, '  "All of it."\n', True, "outer-space-stripped"),
    (1216, 0, '"All of it.', False, "no-closing"),
    (1216, 0, "“All of it.”", False, "curly-quotes"),
    (1216, 0, '"', False, "one-quote"),
)
def test_startend_quotation(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- change case ------------------------------------------------------------------------------------


@table(
    (1040, 0, "KEY SKILLS: LEADERSHIP and planning.", True, "3-less-than-10"),
    (1040, 0, " ".join(["WORD"] * 10), False, "10"),
    (1040, 0, "I DON'T know.", True, "clitics-split"),
    (1040, 1, "I am here.", True, "I-counts-at-least-1"),
    (1040, 1, "no capitals here.", False, "none"),
)
def test_case_capital_word_frequency(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1021, 0, "PARAGRAPH 1\nTHE LAW IS NOT ALWAYS RIGHT AND WE SHOULD THINK ABOUT IT.", True, "capitals"),
    (1021, 0, "PARAGRAPH 1\nTHE LAW IS NOT ALWAYS right.", False, "one-lower-word"),
    (1021, 0, "DAS IST EIN KURZER TEXT AUF DEUTSCH ÜBER DAS WETTER UND DIE STADT.", False, "german"),
)
def test_case_english_capital(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1019, 0, "what are the two young boys holding?", True, "lowercase"),
    (1019, 0, "What are the two young boys holding?", False, "capital"),
    (
        1019,
        0,
        "das ist ein kurzer text auf deutsch über das wetter und die stadt, in der wir leben.",
        False,
        "german",
    ),
)
def test_case_english_lowercase(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


@table(
    (1001, 0, "Hark thou traveller go forth to Tokyo.", True, "none"),
    (1001, 0, "Hark, thou traveller.", False, "one"),
    (1001, 0, "Hark，thou traveller.", True, "fullwidth-comma-not-counted"),
)
def test_punctuation_no_comma(key: int, index: int, response: str, want: bool) -> None:
    assert followed(key, index, response) is want


# --- every kind has a table; every shipped row builds ----------------------------------------------


def test_every_kind_has_a_table() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    for iid in KINDS:
        group, kind = iid.split(":")
        short = {
            "detectable_format": "format",
            "detectable_content": "content",
            "change_case": "case",
            "length_constraints": "length",
        }.get(group, group)
        assert f"{short}_{kind}" in tested or f"{group}_{kind}" in tested, iid
    assert len(KINDS) == 25


def test_every_shipped_row_builds_with_its_kwargs() -> None:
    assert len(ROWS) == 541
    n = 0
    for row in ROWS.values():
        assert len(row["instruction_id_list"]) == len(row["kwargs"])
        for iid, kwargs in zip(row["instruction_id_list"], row["kwargs"], strict=True):
            assert type(build(iid, kwargs)) is KINDS[iid]
            n += 1
    assert n == 834


@pytest.mark.parametrize(
    ("iid", "kwargs", "message"),
    [
        ("keywords:nonexistent", {}, "unknown instruction"),
        ("length_constraints:number_words", {"num_words": 300}, "missing argument relation"),
        (
            "length_constraints:number_words",
            {"num_words": "300", "relation": "at least"},
            "must be an integer",
        ),
        ("length_constraints:number_words", {"num_words": 300, "relation": "at most"}, "must be one of"),
        ("length_constraints:number_words", {"num_words": -1, "relation": "at least"}, "0 or more"),
        ("punctuation:no_comma", {"comma": 1}, "unexpected argument comma"),
        ("keywords:existence", {"keywords": "word"}, "list of strings"),
        (
            "keywords:letter_frequency",
            {"letter": "ab", "let_frequency": 1, "let_relation": "at least"},
            "single",
        ),
        ("language:response_language", {"language": "xx"}, "langdetect"),
        (
            "length_constraints:nth_paragraph_first_word",
            {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"},
            "between 1",
        ),
        ("punctuation:no_comma", ["not", "a", "dict"], "must be an object"),
    ],
)
def test_bad_kwargs_raise_instruction_error(iid: str, kwargs: Any, message: str) -> None:
    with pytest.raises(InstructionError, match=message):
        build(iid, kwargs)


def test_hugging_face_style_kwargs_with_none_values_build() -> None:
    hf = {
        "num_words": 300,
        "relation": "at least",
        "keywords": None,
        "num_highlights": None,
        "language": None,
    }
    assert build("length_constraints:number_words", hf) == build(
        "length_constraints:number_words", {"num_words": 300, "relation": "at least"}
    )


# --- how text is read --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("Hello world", 2),
        ("It's 300+ words", 4),  # it, s, 300, words
        ("well-known e-mail", 4),
        ("snake_case stays", 2),  # _ is a word character
        ("日本語 テキスト", 2),
        ("", 0),
    ],
)
def test_count_words(text: str, n: int) -> None:
    assert T.count_words(text) == n


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("One. Two. Three.", 3),
        ("No full stop at all", 1),
        ("# Title\n\n* one\n* two", 1),  # line breaks alone never end a sentence
        ("Intro:\n\n1. First item.\n2. Second item.", 4),  # "1." before a capital is a sentence of its own
        ("Dr. Smith went home. He was tired.", 2),
        ("I live in the U.S. He said hi.", 2),
        ("See e.g. the docs. Then go.", 3),  # Punkt splits after "e.g." here, as NLTK does
        ("Wait... What? Yes!", 2),
        ('He said "Stop." Then left.', 2),
        ("It costs $3.50. Okay.", 2),
        ("", 0),
    ],
)
def test_count_sentences_is_punkt(text: str, n: int) -> None:
    assert T.count_sentences(text) == n


# NLTK 3.9.1's ``word_tokenize`` (Punkt sentences + NLTKWordTokenizer), recorded on these texts:
# the number of tokens that are ``str.isupper()``.
NLTK_CAPITAL_COUNTS = [
    ("DON'T STOP", 3),
    ("I'M HERE", 3),
    ("CANNOT", 2),
    ("GONNA GO", 3),
    ("'TIS TRUE", 3),
    ("NASA'S PLAN", 3),
    ("O'NEIL", 1),
    ("**BOLD** TEXT", 2),
    ("A,B", 2),
    ("1,000 MEN", 1),
    ("HELLO...WORLD", 2),
    ("U.S. ARMY.", 2),
    ("AND/OR", 1),
    ("WELL-KNOWN", 1),
    ('"QUOTE" HERE', 2),
    ("(PAREN)", 1),
    ("THE END.", 2),
    ("I", 1),
    ("DOGS'", 1),
    ("“CURLY” ‘SINGLE’ DON’T", 4),
    ("A--B", 2),
    ("X*Y", 2),
    ("$100 2023", 0),
    ("#TAG @USER", 2),
    ("WHAT?!", 1),
    ("NO.NO", 1),
    ("3 P.M. TODAY", 2),
    ("Mr. SMITH", 1),
    ("COVID-19 and I'm fine", 2),
    ("HELLO;WORLD:NOW", 3),
    ("I'd say WE'LL win, THEY'RE sure, YOU'VE seen it.", 7),
]


@pytest.mark.parametrize(("text", "n"), NLTK_CAPITAL_COUNTS)
def test_capital_words_match_nltk(text: str, n: int) -> None:
    assert len(T.capital_words(text)) == n


def test_line_scans_equal_ifeval_regexes() -> None:
    rnd = random.Random(18)
    for _ in range(5000):
        s = "".join(rnd.choice("*- a\n\t\u00a0") for _ in range(rnd.randrange(0, 30)))
        assert T.count_bullets(s, "*") == len(re.findall(r"^\s*\*[^\*].*$", s, flags=re.M)), s
        assert T.count_bullets(s, "-") == len(re.findall(r"^\s*-.*$", s, flags=re.M)), s
    for _ in range(3000):
        s = "".join(rnd.choice("[]<>a \n") for _ in range(rnd.randrange(0, 40)))
        assert T.count_placeholders(s) == len(re.findall(r"\[.*?\]", s)), s
        assert T.titles(s) == re.findall(r"<<[^\n]+>>", s), s


def test_scans_stay_linear_on_hostile_text() -> None:
    import time

    hostile = "[" * 200_000 + "\n" + "<" * 200_000 + "\n" * 200_000 + " \n" * 100_000
    start = time.perf_counter()
    assert T.count_bullets(hostile, "*") == T.count_bullets(hostile, "-") == 0
    assert T.count_placeholders(hostile) == 0
    assert T.has_title(hostile) is None
    assert time.perf_counter() - start < 3.0  # the regexes take minutes on this text


# --- loose variants ----------------------------------------------------------------------------------


def test_loose_variants_are_ifevals_eight() -> None:
    assert loose_variants("Sure!\n*Body* text\nBye") == [
        "Sure!\n*Body* text\nBye",
        "Sure!\nBody text\nBye",
        "*Body* text\nBye",
        "Sure!\n*Body* text",
        "*Body* text",
        "Body text\nBye",
        "Sure!\nBody text",
        "Body text",
    ]
    assert len(LOOSE_VARIANTS) == 8


@pytest.mark.parametrize(
    ("key", "index", "response", "strict", "loose", "via"),
    [
        (
            1128,
            0,
            "Done. Is there anything else I can help with?\nHope this helps!",
            False,
            True,
            "without its last line",
        ),
        (1012, 0, "Sure, here it is:\n" + REPEAT + " The email...", False, True, "without its first line"),
        (1216, 0, 'Here you go:\n"All of it."\nEnjoy!', False, True, "without its first and last lines"),
        (1019, 0, "**what are the two young boys holding?**", True, True, "as is"),
        (1000, 1, "*one* *two* *three*", True, True, "as is"),
        (1098, 0, "Answer A\n******\nAnswer A", False, False, None),
        (1001, 0, "Hello,\nworld,\nagain", False, False, None),
    ],
)
def test_loose(key: int, index: int, response: str, strict: bool, loose: bool, via: str | None) -> None:
    iid, kwargs = ins(key, index)
    checked = evaluate(iid, build(iid, kwargs), response, loose_variants(response))
    assert (checked.strict.followed, checked.loose, checked.loose_via) == (strict, loose, via)


# --- the scorer --------------------------------------------------------------------------------------


def sample(key: int, **fields: Any) -> Sample:
    row = dict(ROWS[key])
    row.update(fields)
    return Sample(id=row["id"], input=row["input"], expected=None, fields=row)


def test_scorer_followed_and_explained() -> None:
    fn = build_scorer("instructions")
    text = "*Early life* of Raymond III *Reign* and *Death* " + "word " * 300
    score = fn(text, sample(1000))
    assert (score.value, score.label) == (1.0, "followed")
    assert score.meta == {
        "mode": "strict",
        "instructions": ROWS[1000]["instruction_id_list"],
        "strict": [True, True, True],
        "loose": [True, True, True],
        "prompt_strict": True,
        "prompt_loose": True,
    }
    assert "3 of 3 instructions followed strictly" in score.explanation
    assert score.answer is not None and "number_words: 308 words" in score.answer


def test_scorer_names_each_failure_and_why() -> None:
    fn = build_scorer("instructions")
    score = fn("Raymond, the count. " + "word " * 209, sample(1000))
    assert (score.value, score.label) == (0.0, "not_followed")
    assert score.meta["strict"] == [False, False, False]
    assert "length_constraints:number_words: 212 words, wanted at least 300 words" in score.explanation
    assert "punctuation:no_comma: 1 comma" in score.explanation
    assert "detectable_format:number_highlighted_sections: 0 highlighted sections" in score.explanation


def test_scorer_loose_mode_takes_the_loose_verdict() -> None:
    text = "Done. Is there anything else I can help with?\nHope this helps!"
    strict = build_scorer("instructions")(text, sample(1128))
    loose = build_scorer("instructions", {"mode": "loose"})(text, sample(1128))
    assert (strict.value, strict.label, loose.value, loose.label) == (0.0, "not_followed", 1.0, "followed")
    assert strict.meta["loose"] == loose.meta["loose"] == [True]
    assert "followed loosely: without its last line" in strict.explanation


def test_scorer_empty_output() -> None:
    score = build_scorer("instructions")("  \n", sample(1001))
    assert (score.value, score.label, score.meta["strict"], score.meta["prompt_loose"]) == (
        0.0,
        "empty",
        [False],
        False,
    )


def test_scorer_unknown_instruction_is_a_verdict() -> None:
    s = sample(1001, instruction_id_list=["punctuation:no_comma", "keywords:made_up"], kwargs=[{}, {}])
    score = build_scorer("instructions")("No commas here", s)
    assert (score.value, score.label) == (0.0, "unknown_instruction")
    assert score.meta["strict"] == [True, None] and score.meta["prompt_strict"] is None
    assert "keywords:made_up" in score.explanation and "keywords:made_up" in score.meta["problems"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"instruction_id_list": None}, "not a non-empty list"),
        ({"instruction_id_list": []}, "not a non-empty list"),
        ({"kwargs": [{}, {}]}, "must be a list of 1 argument objects"),
        ({"kwargs": [{"comma": True}]}, "unexpected argument comma"),
    ],
)
def test_scorer_bad_rows_are_verdicts(fields: dict[str, Any], message: str) -> None:
    score = build_scorer("instructions")("No commas here", sample(1001, **fields))
    assert (score.value, score.label) == (0.0, "bad_instruction")
    assert message in score.explanation


def test_scorer_field_names_are_configurable() -> None:
    fn = build_scorer("instructions", {"instructions_field": "ids", "kwargs_field": "args"})
    s = Sample(id="x", input="", expected=None, fields={"ids": ["punctuation:no_comma"]})
    assert fn("No commas", s).label == "followed"  # a row without the kwargs field has no arguments


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"mode": "lenient"}, "mode must be one of"),
        ({"kwargs_field": ""}, "field name"),
        ({"strict": True}, "no argument"),
    ],
)
def test_scorer_bad_arguments_fail_at_load(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_scorer("instructions", args)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "\x00\x01",
        "[" * 50_000,
        "*" * 50_000,
        "\n" * 20_000,
        "<<" * 10_000,
        "{" * 50_000,
        "\ud800",
        "😀" * 1000,
    ],
)
def test_scorer_never_raises(text: Any) -> None:
    fn = build_scorer("instructions")
    for key in (1000, 1012, 1040, 1021, 1098, 1108, 1075, 1122):
        score = fn(text, sample(key))
        assert score.label in ("followed", "not_followed", "empty")


# --- agreement with IFEval's published verdicts ------------------------------------------------------

GPT4 = [json.loads(line) for line in (Path(__file__).parent / "data" / "ifeval_gpt4_sample.jsonl").open()]


@pytest.mark.parametrize("ref", GPT4, ids=[str(r["key"]) for r in GPT4])
def test_gpt4_reference_responses(ref: dict[str, Any]) -> None:
    """GPT-4's responses shipped with IFEval, and the verdicts IFEval's own evaluation gives them."""
    score = build_scorer("instructions")(ref["response"], sample(ref["key"]))
    assert score.meta["strict"] == ref["strict"]
    if ref["published_loose"] is not None:
        assert score.meta["loose"] == ref["published_loose"]
    if "note" not in ref:
        assert ref["strict"] == ref["published_strict"]


# --- the accumulator ---------------------------------------------------------------------------------


def verdict(ids: list[str], strict: list[bool], loose: list[bool], label: str = "not_followed") -> Score:
    meta = {
        "instructions": ids,
        "strict": strict,
        "loose": loose,
        "prompt_strict": all(strict),
        "prompt_loose": all(loose),
    }
    return Score(float(all(strict)), None, "", label, meta)


def test_accumulator_figures_on_a_hand_computed_set() -> None:
    acc = InstructionsAccumulator()
    nc, nw, ti = "punctuation:no_comma", "length_constraints:number_words", "detectable_format:title"
    acc.add(None, verdict([nc, nw], [True, True], [True, True], "followed"))  # all followed
    acc.add(None, verdict([nc], [False], [True]))  # loose only
    acc.add(None, verdict([nw, ti], [False, True], [False, True]))  # one of two
    acc.add(None, verdict([ti], [False], [False], "empty"))
    acc.add(
        None,
        Score(
            0.0,
            None,
            "",
            "unknown_instruction",
            {"instructions": ["x:y"], "strict": [None], "loose": [None], "prompt_strict": None},
        ),
    )
    acc.add(None, Score(0.0, None, "", "not_followed"))  # a ledger line without meta
    out = acc.finish()
    assert out["kind"] == "instructions" and out["n"] == 6
    assert (out["prompts"], out["instructions"], out["unjudged"]) == (4, 6, 2)
    assert out["prompt_level_strict"] == 1 / 4
    assert out["prompt_level_loose"] == 2 / 4
    assert out["instruction_level_strict"] == 3 / 6
    assert out["instruction_level_loose"] == 4 / 6
    assert out["per_kind"][nc] == {
        "n": 2,
        "followed_strict": 1,
        "followed_loose": 2,
        "strict": 0.5,
        "loose": 1.0,
    }
    assert out["per_kind"][nw] == {
        "n": 2,
        "followed_strict": 1,
        "followed_loose": 1,
        "strict": 0.5,
        "loose": 0.5,
    }
    assert out["per_kind"][ti] == {
        "n": 2,
        "followed_strict": 1,
        "followed_loose": 1,
        "strict": 0.5,
        "loose": 0.5,
    }
    assert out["per_category"]["detectable_format"]["n"] == 2
    assert out["class_counts"]["followed"] == 1 and out["class_counts"]["unknown_instruction"] == 1
    json.dumps(out)


def test_accumulator_empty_gives_none_not_zero() -> None:
    out = InstructionsAccumulator().finish()
    assert (
        out["prompt_level_strict"] is None
        and out["instruction_level_loose"] is None
        and out["per_kind"] == {}
    )


def test_accumulator_reads_the_scorers_own_meta() -> None:
    fn = build_scorer("instructions")
    acc = InstructionsAccumulator()
    for ref in GPT4[:8]:
        acc.add(None, fn(ref["response"], sample(ref["key"])))
    out = acc.finish()
    # rows 1000..1051 of the published results: 3 of 8 prompts and 9 of 14 instructions followed strictly
    assert (out["prompts"], out["instructions"]) == (8, 14)
    assert out["prompt_level_strict"] == 3 / 8
    assert out["instruction_level_strict"] == 9 / 14
    assert out["prompt_level_loose"] == 4 / 8
