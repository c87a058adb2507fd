"""exact_match, the text helpers it uses, and its summary metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.scorers as scorers_pkg
from evalkit.errors import ConfigError
from evalkit.scorers import build_scorer, registered
from evalkit.scorers.metrics import top_confusions
from evalkit.scorers.registry import extra_metrics
from evalkit.scorers.text import LabelSet, Normalizer, parse_number, strip_surrounding
from evalkit.types import Sample, Score

DATA = Path(__file__).resolve().parents[1] / "suites" / "data"  # inside the repository, with attribution
BANKING_LABELS = DATA / "banking77_labels.json"


def sample(expected: Any, **fields: Any) -> Sample:
    return Sample(id="s1", input="q", expected=expected, fields=fields)


def test_public_surface_is_sorted_and_complete() -> None:
    assert scorers_pkg.__all__ == sorted(scorers_pkg.__all__)
    assert set(scorers_pkg.__all__) == {"ScoreFn", "build_scorer", "registered", "scorer"}
    assert {"exact_match", "json_valid", "refusal"} <= set(registered())
    assert registered()["exact_match"].help.startswith("Exact match")


# (args, output, expected, label, value)
CASES: list[tuple[dict[str, Any], str, Any, str, float]] = [
    ({}, "Paris", "Paris", "correct", 1.0),
    ({}, "  paris.  ", "Paris", "correct", 1.0),
    ({}, "**Paris**", "paris", "correct", 1.0),
    ({}, '"Paris"', "Paris", "correct", 1.0),
    ({}, "(B)", "B", "correct", 1.0),
    ({}, "New   York\n", "new york", "correct", 1.0),
    ({}, "U.S.", "u.s", "correct", 1.0),
    ({}, "U.S.", "US", "wrong", 0.0),
    ({"ignore_punctuation": "all"}, "U.S.", "US", "correct", 1.0),
    ({"ignore_punctuation": False}, "Paris.", "Paris", "wrong", 0.0),
    ({"case_sensitive": True}, "paris", "Paris", "wrong", 0.0),
    ({"case_sensitive": True}, "Paris", "Paris", "correct", 1.0),
    ({"strip": False}, " Paris", "Paris", "correct", 1.0),  # surrounding punctuation/space still stripped
    ({"strip": False, "ignore_punctuation": False}, " Paris", "Paris", "wrong", 0.0),
    ({}, "Straße", "STRASSE", "correct", 1.0),
    ({}, "ＡＢＣ１２", "abc12", "correct", 1.0),
    ({"nfkc": False}, "ＡＢＣ", "abc", "wrong", 0.0),
    ({"ignore_articles": True}, "The Beatles", "beatles", "correct", 1.0),
    ({}, "The Beatles", "beatles", "wrong", 0.0),
    ({}, "Lyon", ["Paris", "Lyon"], "correct", 1.0),
    ({}, "Nice", ["Paris", "Lyon"], "wrong", 0.0),
    ({}, "5.0", 5, "correct", 1.0),
    ({}, "5", 5.0, "correct", 1.0),
    ({}, "1,000", 1000, "correct", 1.0),
    ({}, "-5", -5, "correct", 1.0),
    ({}, "5", -5, "wrong", 0.0),
    ({}, "5.0", "5", "wrong", 0.0),  # strings compare as strings unless numeric_tolerance is set
    ({"numeric_tolerance": 0}, "5.0", "5", "correct", 1.0),
    ({"numeric_tolerance": 0.01}, "3.141", "3.14", "correct", 1.0),
    ({"numeric_tolerance": 0.001}, "3.15", "3.14", "wrong", 0.0),
    ({}, "50%", "50", "wrong", 0.0),
    ({}, "true", True, "correct", 1.0),
    ({}, "", "Paris", "empty", 0.0),
    ({}, "   \n\t", "Paris", "empty", 0.0),
    ({}, "...", "Paris", "empty", 0.0),
    ({}, "Paris", None, "wrong", 0.0),
    ({"extract": "first_line"}, "\n\nParis\nbecause it is the capital", "Paris", "correct", 1.0),
    ({"extract": "full"}, "Paris\nbecause it is the capital", "Paris", "wrong", 0.0),
    ({"pattern": r"(?i)answer:\s*(\w+)"}, "Thinking...\nAnswer: Paris", "paris", "correct", 1.0),
    ({"pattern": r"\d+"}, "I count 42 apples", "42", "correct", 1.0),
    ({"pattern": r"(?i)answer:\s*(\w+)"}, "Paris", "Paris", "no_answer", 0.0),
    ({"extract": "regex", "pattern": r"(\d+)|(none)"}, "none here", "none", "correct", 1.0),
]


@pytest.mark.parametrize(("args", "output", "expected", "label", "value"), CASES)
def test_exact_match_table(
    args: dict[str, Any], output: str, expected: Any, label: str, value: float
) -> None:
    score = build_scorer("exact_match", args)(output, sample(expected))
    assert (score.label, score.value) == (label, value), score.explanation
    assert score.explanation


# (output, expected, label, answer) with the BANKING77 label set
LABEL_CASES: list[tuple[str, Any, str, str | None]] = [
    ("card_arrival", "card_arrival", "correct", "card_arrival"),
    ("Card Arrival", "card_arrival", "correct", "card_arrival"),
    ("card-arrival", "card_arrival", "correct", "card_arrival"),
    ("`card_arrival`", "card_arrival", "correct", "card_arrival"),
    ("The intent is **card_arrival**.", "card_arrival", "correct", "card_arrival"),
    ("Intent: card arrival", "card_arrival", "correct", "card_arrival"),
    ("card_delivery_estimate", "card_arrival", "wrong", "card_delivery_estimate"),
    ("refund not showing up", "Refund_not_showing_up", "correct", "Refund_not_showing_up"),
    # a label inside a longer mentioned label is not a second mention
    (
        "It is card_payment_wrong_exchange_rate",
        "card_payment_wrong_exchange_rate",
        "correct",
        "card_payment_wrong_exchange_rate",
    ),
    ("virtual card not working", "virtual_card_not_working", "correct", "virtual_card_not_working"),
    ("either card_arrival or card_linking", "card_arrival", "ambiguous_label", None),
    ("exchange_rate, or maybe card_payment_wrong_exchange_rate", "exchange_rate", "ambiguous_label", None),
    ("card_arrival. Definitely card_arrival.", "card_arrival", "correct", "card_arrival"),
    ("lost_my_card", "card_arrival", "invalid_label", None),
    ("I don't know", "card_arrival", "invalid_label", None),
    ("cardarrival", "card_arrival", "invalid_label", None),
    ("", "card_arrival", "empty", None),
]


@pytest.mark.parametrize(("output", "expected", "label", "answer"), LABEL_CASES)
def test_exact_match_labels_table(output: str, expected: Any, label: str, answer: str | None) -> None:
    score = build_scorer("exact_match", {"labels": str(BANKING_LABELS)})(output, sample(expected))
    assert score.label == label, score.explanation
    assert score.value == (1.0 if label == "correct" else 0.0)
    if answer is not None:
        assert score.answer == answer


def test_labels_explanations_name_the_problem() -> None:
    fn = build_scorer("exact_match", {"labels": ["card_arrival", "card_linking", "top_up_failed"]})
    amb = fn("card_arrival or card_linking?", sample("card_arrival"))
    assert "card_arrival" in amb.explanation and "card_linking" in amb.explanation
    bad = fn("pizza", sample("card_arrival"))
    assert "not a valid label" in bad.explanation
    odd = fn("top_up_failed", sample("balance"))
    assert "not in the label set" in odd.explanation


def test_label_files_resolve_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("yes\nno\n\nmaybe\n", encoding="utf-8")
    (tmp_path / "labels.json").write_text(json.dumps(["yes", "no"]), encoding="utf-8")
    for name in ("labels.txt", "labels.json"):
        fn = build_scorer("exact_match", {"labels": name}, base_dir=tmp_path)
        assert fn("Yes.", sample("yes")).label == "correct"
        assert fn("perhaps", sample("yes")).label == "invalid_label"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"case_sensitive": "yes"}, "case_sensitive must be true or false"),
        ({"ignore_punctuation": "some"}, "ignore_punctuation must be"),
        ({"numeric_tolerance": -1}, "numeric_tolerance must be a number >= 0"),
        ({"numeric_tolerance": "0.1"}, "numeric_tolerance must be"),
        ({"extract": "last_line"}, "extract must be one of"),
        ({"extract": "regex"}, "extract: regex needs a pattern"),
        ({"extract": "full", "pattern": "x"}, "pattern is only used with extract: regex"),
        ({"pattern": "(unclosed"}, "not a valid regular expression"),
        ({"labels": "missing.json"}, "labels: file not found"),
        ({"labels": 5}, "labels must be a list"),
        ({"labels": []}, "holds no labels"),
        ({"labels": ["a_b", "A B"]}, "are the same label"),
        ({"lables": ["a"]}, "Did you mean labels?"),
    ],
)
def test_bad_arguments_fail_at_build_time(tmp_path: Path, args: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="exact_match") as exc:
        build_scorer("exact_match", args, base_dir=tmp_path)
    assert message in str(exc.value)


def test_unknown_scorer_suggests() -> None:
    with pytest.raises(ConfigError, match="Did you mean exact_match"):
        build_scorer("exact")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42.0),
        (" -3.5 ", -3.5),
        ("1e3", 1000.0),
        ("1,234.5", 1234.5),
        ("５", 5.0),
        ("−2", -2.0),
        ("1,23", None),
        ("50%", None),
        ("$5", None),
        ("nan", None),
        ("inf", None),
        ("1e999", None),
        ("", None),
        ("abc", None),
        (".5", 0.5),
    ],
)
def test_parse_number(text: str, number: float | None) -> None:
    assert parse_number(text) == number


def test_strip_surrounding_keeps_signs_and_percent() -> None:
    assert strip_surrounding("(-5)") == "-5"
    assert strip_surrounding("**50%**.") == "50%"
    assert strip_surrounding("«Paris»") == "Paris"
    assert strip_surrounding("...") == ""


# --- properties --------------------------------------------------------------------------------

normalizers = st.builds(
    Normalizer,
    case_sensitive=st.booleans(),
    strip=st.booleans(),
    punctuation=st.sampled_from(["none", "surrounding", "all"]),
    nfkc=st.booleans(),
    ignore_articles=st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(normalizers, st.text())
def test_normalisation_is_idempotent(norm: Normalizer, text: str) -> None:
    once = norm(text)
    assert norm(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_number_parsing_never_crashes(text: str) -> None:
    parse_number(text)


@settings(max_examples=200, deadline=None)
@given(
    st.text(),
    st.one_of(
        st.none(),
        st.text(),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.lists(st.text(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ),
    st.sampled_from(
        [
            {},
            {"numeric_tolerance": 0.5},
            {"extract": "first_line"},
            {"pattern": r"(\w+)"},
            {"labels": ["card_arrival", "top_up", "a"]},
            {"ignore_punctuation": "all", "ignore_articles": True},
        ]
    ),
)
def test_exact_match_never_raises(output: str, expected: Any, args: dict[str, Any]) -> None:
    score = build_scorer("exact_match", args)(output, sample(expected))
    assert score.value in (0.0, 1.0)
    assert score.label in ("correct", "wrong", "invalid_label", "ambiguous_label", "no_answer", "empty")


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_label_search_never_crashes(text: str) -> None:
    labels = LabelSet(json.loads(BANKING_LABELS.read_text()), Normalizer())
    found = labels.mentioned(text)
    assert len(found) == len(set(found))


# --- summaries ---------------------------------------------------------------------------------


def test_classification_meta() -> None:
    fn = build_scorer("exact_match", {"labels": ["cat", "dog", "hot_dog"]})
    assert fn("It is a Dog.", sample("cat")).meta == {"predicted_label": "dog"}
    assert fn("hot-dog", sample("hot_dog")).meta == {"predicted_label": "hot_dog"}
    assert fn("cat or dog", sample("cat")).meta == {"mentioned_labels": ["cat", "dog"], "n_mentioned": 2}
    assert fn("fish", sample("cat")).meta == {}
    assert build_scorer("exact_match")("Paris", sample("Paris")).meta == {}


def test_classification_summary() -> None:
    """Hand-computed on three labels (rows: expected -> output):

    cat->cat, cat->dog, dog->dog, dog->dog, bird->fish (invalid), bird->"cat or dog" (ambiguous).
    dog: precision 2/3 (3 predicted, 2 right), recall 2/2, F1 0.8; cat: precision 1/1, recall
    1/2, F1 2/3; bird: never predicted, recall 0, F1 0. macro-F1 = (0.8 + 2/3 + 0) / 3.
    """
    fn = build_scorer("exact_match", {"labels": ["cat", "dog", "bird"]})
    rows = [
        ("cat", "cat"),
        ("cat", "dog"),
        ("dog", "dog"),
        ("dog", "dog"),
        ("bird", "fish"),
        ("bird", "cat or dog"),
    ]
    pairs = [(exp, fn(out, sample(exp))) for exp, out in rows]
    m = extra_metrics("exact_match", {"labels": ["cat", "dog", "bird"]}, iter(pairs))
    assert m["kind"] == "classification" and m["n"] == 6 and m["n_classes"] == 3
    assert m["class_counts"] == {
        "correct": 3,
        "wrong": 1,
        "invalid_label": 1,
        "ambiguous_label": 1,
        "no_answer": 0,
        "empty": 0,
    }
    assert m["confusion"] == {"bird": {"(invalid)": 2}, "cat": {"cat": 1, "dog": 1}, "dog": {"dog": 2}}
    assert m["per_class"]["dog"] == {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    assert m["per_class"]["cat"]["precision"] == 1.0 and m["per_class"]["cat"]["recall"] == 0.5
    assert m["per_class"]["bird"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0.0) / 3)
    assert m["invalid_label_share"] == pytest.approx(2 / 6)
    assert m["accuracy"] == 0.5
    assert top_confusions(m["confusion"]) == [("bird", "(invalid)", 2), ("cat", "dog", 1)]


def test_classification_summary_reads_old_ledger_lines_without_meta() -> None:
    pairs = [
        ("cat", Score(1.0, "cat", "read label 'cat'", "correct")),
        ("cat", Score(0.0, "dog", "read label 'dog'", "wrong")),
        ("dog", Score(0.0, "x", "scorer raised", "scorer_error")),
    ]
    m = extra_metrics("exact_match", {"labels": ["cat", "dog"]}, pairs)
    assert m["confusion"] == {"cat": {"cat": 1, "dog": 1}} and m["unscored"] == 1
    assert m["class_counts"]["scorer_error"] == 1


def test_summary_without_labels_is_class_counts() -> None:
    pairs = [("a", Score(1.0, "a", "", "correct")), ("b", Score(0.0, "c", "", "wrong"))]
    assert extra_metrics("exact_match", {}, pairs) == {
        "kind": "counts",
        "n": 2,
        "class_counts": {"correct": 1, "wrong": 1},
    }


def test_score_meta_round_trips_and_old_lines_load() -> None:
    s = Score(0.0, "dog", "why", "wrong", {"predicted_label": "dog"})
    assert s.to_dict()["meta"] == {"predicted_label": "dog"}
    assert Score.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    plain = Score(1.0, "a", "why", "correct")
    assert "meta" not in plain.to_dict()  # empty meta is left out of the ledger line
    old = {"value": 1.0, "answer": "a", "explanation": "why", "label": "correct"}
    assert Score.from_dict(old) == plain and Score.from_dict(old).meta == {}
    assert Score.from_dict({**old, "meta": None}).meta == {}
