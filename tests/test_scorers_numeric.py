"""numeric: real GSM8K worked answers pass, altered ones fail; hand-written answer styles are read right."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import ConfigError
from evalkit.scorers.numeric import SOURCES, parse_number_text, read_number
from evalkit.scorers.registry import build_scorer
from evalkit.types import Sample

DATA = Path(__file__).resolve().parents[1] / "suites" / "data" / "gsm8k_test_400.jsonl"
ROWS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def sample(expected: Any, sid: str = "g") -> Sample:
    return Sample(sid, "question", expected, {})


def gsm(row: dict[str, Any]) -> Sample:
    return Sample(row["id"], row["input"], row["expected"], {"solution": row["solution"]})


def test_every_gsm8k_solution_passes() -> None:
    fn = build_scorer("numeric")
    assert len(ROWS) == 400
    failures = [(r["id"], s.explanation) for r in ROWS if (s := fn(r["solution"], gsm(r))).label != "correct"]
    assert failures == []
    assert {fn(r["solution"], gsm(r)).meta["source"] for r in ROWS} == {"hash_marker"}


def _altered(solution: str, delta: int) -> str:
    head, _, tail = solution.rpartition("####")
    value = int(tail.strip().replace(",", ""))
    return f"{head}#### {value + delta}"


@pytest.mark.parametrize("row", ROWS[::40], ids=lambda r: r["id"])
def test_altered_gsm8k_answers_fail(row: dict[str, Any]) -> None:
    fn = build_scorer("numeric")
    for delta in (1, -1, 100):
        s = fn(_altered(row["solution"], delta), gsm(row))
        assert (s.label, s.value) == ("wrong", 0.0), s.explanation
        assert f"expected {row['expected']}" in s.explanation


def test_the_marker_wins_over_the_steps_and_the_steps_count_without_it() -> None:
    fn = build_scorer("numeric")
    row = ROWS[0]  # gsm8k-test-0010: ... 126+240 = <<126+240=366>>366 / #### 366
    without_marker = row["solution"].rsplit("####", 1)[0]
    s = fn(without_marker, gsm(row))
    assert (s.label, s.meta["source"]) == ("correct", "last_number")
    strict = build_scorer("numeric", {"sources": ["hash_marker"]})
    s = strict(without_marker, gsm(row))
    assert s.label == "no_number" and "hash_marker only" in s.explanation


# (answer, expected, label, source, number read)
STYLES: list[tuple[str, Any, str, str | None, float | None]] = [
    ("Step 1: 3 * 4 = 12\n#### 12", "12", "correct", "hash_marker", 12),
    ("#### $1,200", "1200", "correct", "hash_marker", 1200),
    ("#### 1,200.00 dollars", 1200, "correct", "hash_marker", 1200),
    ("#### -3", "-3", "correct", "hash_marker", -3),
    ("The total is 7.\n#### 7\nSo 9 in all? No: 7.", "7", "correct", "hash_marker", 7),
    ("So she pays $\\boxed{18}$ in total.", "18", "correct", "boxed", 18),
    ("\\boxed{\\frac{3}{4}}", "0.75", "correct", "boxed", 0.75),
    ("\\boxed{1{,}000}", "1000", "correct", "boxed", 1000),
    ("\\boxed{\\$42}", "42", "correct", "boxed", 42),
    ("\\boxed{50\\%}", "50", "correct", "boxed", 50),
    ("\\boxed{12 \\text{ apples}}", "12", "correct", "boxed", 12),
    ("She has 5 + 3 = 8 eggs. The answer is 8.", "8", "correct", "answer_phrase", 8),
    ("The answer is: $1,234,567.", "1234567", "correct", "answer_phrase", 1234567),
    ("**Answer:** 42 marbles", "42", "correct", "answer_phrase", 42),
    ("Final answer = 2 1/2 hours", "2.5", "correct", "answer_phrase", 2.5),
    ("The answer to part 2 is 17, not 5.", "17", "correct", "answer_phrase", 17),
    ("The answer is 5 + 3 = 8 apples.", "8", "correct", "answer_phrase", 8),
    ("The answer is 12. Then 13 more are added later", "12", "correct", "answer_phrase", 12),
    ("answer: −4 degrees", "-4", "correct", "answer_phrase", -4),
    ("Answer: 3/4 of the pie", "0.75", "correct", "answer_phrase", 0.75),
    ("Answer: ５０", "50", "correct", "answer_phrase", 50),
    ("To answer this, 4 + 4 = 8 and the total is 20", "20", "correct", "last_number", 20),
    ("It went up by 25%.", "25", "correct", "last_number", 25),
    ("It went up by 25 percent.", "0.25", "correct", "last_number", 25),
    ("48/2 = <<48/2=24>>24 clips, then 48+24 = <<48+24=72>>72", "72", "correct", "last_number", 72),
    ("He ran 3.5 km.", "3.5", "correct", "last_number", 3.5),
    ("He ran 3.5 km.", "3", "wrong", "last_number", 3.5),
    ("It costs $.50 each", "0.5", "correct", "last_number", 0.5),
    ("Between 10-15 minutes", "15", "correct", "last_number", 15),
    ("1,2,3", "3", "correct", "last_number", 3),
    ("The answer is 19.", "18", "wrong", "answer_phrase", 19),
    ("Answer: 18.0000001", "18", "correct", "answer_phrase", 18.0000001),
    ("Answer: 18.01", "18", "wrong", "answer_phrase", 18.01),
    ("I don't know.", "18", "no_number", None, None),
    ("", "18", "no_number", None, None),
    ("The answer is 8", "eight", "bad_expected", None, None),
    ("The answer is 8", None, "bad_expected", None, None),
]


@pytest.mark.parametrize(("answer", "expected", "label", "source", "number"), STYLES)
def test_answer_styles(
    answer: str, expected: Any, label: str, source: str | None, number: float | None
) -> None:
    s = build_scorer("numeric")(answer, sample(expected))
    assert s.label == label, s.explanation
    assert s.value == (1.0 if label == "correct" else 0.0)
    assert s.meta.get("source") == source
    if number is not None:
        assert s.meta["number"] == pytest.approx(number)
        assert s.explanation.startswith("read ")


def test_the_verdict_names_what_was_read_and_where() -> None:
    s = build_scorer("numeric")("so the price is $1,200 in all\n#### $1,200", sample("1200"))
    assert s.answer == "1200"
    assert s.explanation == "read 1200 from the '####' marker ('$1,200'): equals the expected 1200"
    assert s.meta == {"source": "hash_marker", "number": 1200.0, "raw": "$1,200"}


def test_tolerances() -> None:
    assert build_scorer("numeric", {"tolerance": 0.5})("#### 18.4", sample("18")).label == "correct"
    assert build_scorer("numeric", {"tolerance": 0})("#### 18.4", sample("18")).label == "wrong"
    rel = build_scorer("numeric", {"relative_tolerance": 0.01, "tolerance": 0})
    assert rel("#### 1005", sample("1000")).label == "correct"
    assert rel("#### 1011", sample("1000")).label == "wrong"


def test_sources_order_is_followed() -> None:
    text = "The answer is 5.\n\\boxed{6}\nMaybe 7"
    assert read_number(text).source == "boxed"  # type: ignore[union-attr]
    assert read_number(text, ["answer_phrase", "boxed"]).value == 5  # type: ignore[union-attr]
    assert read_number(text, ["last_number"]).value == 7  # type: ignore[union-attr]
    assert SOURCES == ("hash_marker", "boxed", "answer_phrase", "last_number")


@pytest.mark.parametrize(
    ("value", "number"),
    [("18", 18), ("-3", -3), ("1,000", 1000), ("3/4", 0.75), ("0.5", 0.5), (7, 7), (2.5, 2.5),
     ("abc", None), ("", None), (True, None), (None, None), ("1/0", None), (float("nan"), None), ("5 apples", None)],
)  # fmt: skip
def test_parse_expected(value: Any, number: float | None) -> None:
    got = parse_number_text(value)
    assert got == (pytest.approx(number) if number is not None else None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"tolerance": -1}, "tolerance must be a number >= 0"),
        ({"tolerance": "1"}, "tolerance must be a number >= 0"),
        ({"relative_tolerance": float("inf")}, "relative_tolerance"),
        ({"sources": []}, "sources must be a non-empty list"),
        ({"sources": "boxed"}, "sources must be a non-empty list"),
        ({"sources": ["box"]}, "unknown source 'box'"),
        ({"source": ["boxed"]}, "Did you mean sources?"),
    ],
)
def test_bad_arguments_fail_at_load(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_scorer("numeric", args)


@pytest.mark.parametrize(
    "text",
    ["#" * 10_000, "\\boxed{" * 5_000, "1" * 100_000, "answer is " * 20_000, "\x00\ud800", "1/" * 50_000],
)
def test_hostile_text_never_raises(text: str) -> None:
    s = build_scorer("numeric")(text, sample("1"))
    assert s.label in ("correct", "wrong", "no_number")
