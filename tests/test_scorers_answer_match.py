"""answer_match: SQuAD v2.0's official normalisation, EM and F1, on real SQuAD 2.0 dev rows.

Expected figures are worked out by hand from the official script's definitions (shown beside each
row): normalise (lower case, drop ASCII punctuation, drop a/an/the, single spaces), then EM = the
normalised texts are equal, F1 = 2PR/(P+R) over the token bags, each the maximum over the gold answers.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.errors import ConfigError
from evalkit.scorers import build_scorer, registered
from evalkit.scorers.answer_match import CLASSES, best_match, f1_score, gold_answers, normalize_answer
from evalkit.types import Sample

DATA = Path(__file__).resolve().parents[1] / "suites" / "data" / "squad2_dev_400.jsonl"


@cache
def rows() -> dict[str, dict[str, Any]]:
    out = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        out[r["id"]] = r
    return out


def sample_of(r: dict[str, Any]) -> Sample:
    fields = {k: v for k, v in r.items() if k not in ("id", "input", "expected")}
    return Sample(r["id"], r["input"], r["expected"], fields)


COMPUTATIONAL = "squad2-dev-e048bead7e66f4efe3cfd9ef0"  # computational problems | A computational problem | computational problem
MHC = "squad2-dev-1aaacbdc426f5a5fedaea4645"  # a single MHC:antigen molecule | single
GAMMA_DELTA = "squad2-dev-c2cd9c1da9bf06c46fa5b56df"  # γδ T cells | γδ
RED_ARMY = "squad2-dev-e14b8245a0ffd0bc3ba7c070d"  # the Red Army | Red Army | e Red Army
X25 = "squad2-dev-7430baf925f2535f8634fa1d3"  # User Datagram Protocol | the datagram model | UDP
ROYALTY = "squad2-dev-defc54ab8a906d3abbd709dad"  # unanswerable
FUNGI = "squad2-dev-cadebc7de1677878b9a984e22"  # unanswerable


def test_registered_as_a_text_scorer() -> None:
    spec = registered()["answer_match"]
    assert spec.reads == "text" and spec.help.startswith("SQuAD exact match and token F1")


def test_the_rows_are_the_ones_described() -> None:
    assert rows()[COMPUTATIONAL]["answers"] == [
        "computational problems",
        "A computational problem",
        "computational problem",
    ]
    assert rows()[MHC]["answers"] == ["a single MHC:antigen molecule", "single"]
    assert rows()[ROYALTY]["answers"] == [] and rows()[ROYALTY]["should_refuse"] is True
    answerable = [r for r in rows().values() if r["answers"]]
    assert len(rows()) == 400 and len(answerable) == 200


# (row, output, EM, F1, label, best gold) -- F1 by hand beside each
CASES: list[tuple[str, str, float, float, str, str | None, bool]] = [
    # "computational problem" == normalised gold 2 and 3
    (COMPUTATIONAL, "A computational problem.", 1.0, 1.0, "exact", "A computational problem", False),
    # [computational, tasks] vs [computational, problems]: 1 common, P = R = 1/2 -> 0.5 (first of the ties)
    (COMPUTATIONAL, "computational tasks", 0.0, 0.5, "partial", "computational problems", False),
    # "single mhcantigen molecule" (the colon goes, gluing the words) == normalised gold 1
    (MHC, "A single MHC:antigen molecule!", 1.0, 1.0, "exact", "a single MHC:antigen molecule", False),
    # [single, mhc, antigen, complex] vs [single, mhcantigen, molecule]: P 1/4, R 1/3 -> 2/7;
    # vs [single]: P 1/4, R 1 -> 0.4, the max
    (MHC, "a single MHC antigen complex", 0.0, 0.4, "partial", "single", False),
    (MHC, "two of them", 0.0, 0.0, "wrong", "a single MHC:antigen molecule", False),
    # [γδ, tcells] (the hyphen goes) vs [γδ, t, cells]: P 1/2, R 1/3 -> 0.4; vs [γδ]: P 1/2, R 1 -> 2/3
    (GAMMA_DELTA, "γδ T-cells", 0.0, 2 / 3, "partial", "γδ", False),
    (RED_ARMY, "The Red Army", 1.0, 1.0, "exact", "the Red Army", False),
    # [soviet, red, army, troops] vs [red, army]: P 2/4, R 1 -> 2/3; vs [e, red, army]: P 1/2, R 2/3 -> 4/7
    (RED_ARMY, "Soviet Red Army troops", 0.0, 2 / 3, "partial", "the Red Army", False),
    (X25, "UDP", 1.0, 1.0, "exact", "UDP", False),
    # no span is cut out of a sentence: [answer, is, udp] vs [udp]: P 1/3, R 1 -> 0.5
    (X25, "The answer is UDP.", 0.0, 0.5, "partial", "UDP", False),
    # [datagram] vs [user, datagram, protocol]: P 1, R 1/3 -> 0.5; vs [datagram, model]: P 1, R 1/2 -> 2/3
    (X25, "datagram", 0.0, 2 / 3, "partial", "the datagram model", False),
    # abstaining on an answerable question: the empty prediction, 0
    (
        COMPUTATIONAL,
        "I cannot determine this from the provided context.",
        0.0,
        0.0,
        "abstained",
        "computational problems",
        True,
    ),
    (COMPUTATIONAL, "", 0.0, 0.0, "abstained", "computational problems", True),
    # unanswerable: only the empty prediction is right
    (
        ROYALTY,
        "The context does not say whether the Air Force would be owed a royalty.",
        1.0,
        1.0,
        "correct_abstention",
        None,
        True,
    ),
    (ROYALTY, "", 1.0, 1.0, "correct_abstention", None, True),
    (
        ROYALTY,
        "The.",
        1.0,
        1.0,
        "correct_abstention",
        None,
        False,
    ),  # normalises to nothing: empty, as officially
    (ROYALTY, "Yes, a royalty for every packet.", 0.0, 0.0, "answered_unanswerable", None, False),
    (FUNGI, "Antibiotics", 0.0, 0.0, "answered_unanswerable", None, False),
]


@pytest.mark.parametrize(("row_id", "output", "em", "f1", "label", "best", "abstained"), CASES)
def test_official_em_and_f1_on_real_rows(
    row_id: str, output: str, em: float, f1: float, label: str, best: str | None, abstained: bool
) -> None:
    s = build_scorer("answer_match", {})(output, sample_of(rows()[row_id]))
    assert s.label == label, s.explanation
    assert s.meta["em"] == em and s.meta["f1"] == pytest.approx(f1)
    assert s.value == pytest.approx(f1)
    assert s.meta["answerable"] is (best is not None)
    assert s.meta["abstained"] is abstained and (s.answer == "abstained") is abstained
    if best is not None:
        assert f"gold {best!r}" in s.explanation
    em_value = build_scorer("answer_match", {"metric": "em"})(output, sample_of(rows()[row_id])).value
    assert em_value == em


def test_the_explanation_shows_the_normalised_prediction_and_gold() -> None:
    s = build_scorer("answer_match", {})("Soviet Red Army troops", sample_of(rows()[RED_ARMY]))
    assert "'soviet red army troops'" in s.explanation
    assert "gold 'the Red Army' (normalised 'red army')" in s.explanation
    assert "best of 3 gold answers" in s.explanation and "EM 0, F1 0.67" in s.explanation


def test_every_answerable_row_passes_with_its_gold_and_every_unanswerable_row_wants_nothing() -> None:
    fn = build_scorer("answer_match", {})
    for r in rows().values():
        s = fn(r["expected"] or "", sample_of(r))
        assert (s.meta["em"], s.meta["f1"]) == (1.0, 1.0), (r["id"], s.explanation)
        assert s.label == ("exact" if r["answers"] else "correct_abstention")
        if not r["answers"]:
            wrong = fn(r["question"], sample_of(r))
            assert wrong.label == "answered_unanswerable" and wrong.value == 0.0


def test_abstention_is_the_refusal_detectors() -> None:
    hedged = (
        "The context does not give a number, but it says that a killer T cell needs to bind only "
        "a single MHC:antigen molecule to become activated."
    )
    default = build_scorer("answer_match", {})(hedged, sample_of(rows()[MHC]))
    assert (default.label, default.meta["abstained"], default.value) == ("abstained", True, 0.0)
    assert "partial_refusal" in default.explanation
    read = build_scorer("answer_match", {"partial_counts_as": "answer"})(hedged, sample_of(rows()[MHC]))
    assert read.label == "partial" and read.meta["abstained"] is False and 0.0 < read.value < 1.0


def test_first_line_extraction() -> None:
    out = "computational problem\nThe passage calls them computational problems."
    full = build_scorer("answer_match", {})(out, sample_of(rows()[COMPUTATIONAL]))
    first = build_scorer("answer_match", {"extract": "first_line"})(out, sample_of(rows()[COMPUTATIONAL]))
    assert full.label == "partial" and first.label == "exact"


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The  Quick, brown fox!", "quick brown fox"),
        ("an apple a day", "apple day"),
        ("anthem theory", "anthem theory"),  # articles only as whole words
        ("U.S.A.", "usa"),
        ("A-ha", "aha"),
        ("Théâtre", "théâtre"),
        ("“quoted”", "“quoted”"),  # curly quotes are not in string.punctuation: kept, as officially
        ("the", ""),
        ("  ", ""),
    ],
)
def test_normalize_answer_is_the_official_one(text: str, normalised: str) -> None:
    assert normalize_answer(text) == normalised


@pytest.mark.parametrize(
    ("gold", "pred", "f1"),
    [
        ("", "", 1.0),
        ("the", "", 1.0),
        ("x", "", 0.0),
        ("", "x", 0.0),
        ("a b c", "c b a", 1.0),
        ("b b", "b", 2 / 3),
    ],
)
def test_f1_edge_cases(gold: str, pred: str, f1: float) -> None:
    assert f1_score(gold, pred) == pytest.approx(f1)


def test_gold_answers_come_from_the_field_or_expected() -> None:
    assert gold_answers(Sample("a", "", "Paris", {})) == ["Paris"]
    assert gold_answers(Sample("a", "", None, {})) == []
    assert gold_answers(
        Sample("a", "", "x", {"answers": [{"text": "Lyon", "answer_start": 3}, 7, None]})
    ) == ["Lyon", "7"]
    assert gold_answers(Sample("a", "", "x", {"golds": ["y"]}), "golds") == ["y"]
    assert best_match(["the", "a"], "") == (1.0, 1.0, "")  # every gold normalises to nothing: unanswerable


@pytest.mark.parametrize(
    "args",
    [
        {"metric": "bleu"},
        {"extract": "regex"},
        {"partial_counts_as": "refusal"},
        {"answers_field": ""},
        {"metrics": "f1"},
    ],
)
def test_bad_arguments_fail_when_the_suite_loads(args: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        build_scorer("answer_match", args)


@settings(max_examples=200, deadline=None)
@given(output=st.text(max_size=80), golds=st.lists(st.text(max_size=20), max_size=3))
def test_never_raises_and_figures_are_bounded(output: str, golds: list[str]) -> None:
    s = build_scorer("answer_match", {})(output, Sample("h", "", None, {"answers": golds}))
    assert s.label in CLASSES
    assert 0.0 <= s.meta["f1"] <= 1.0 and s.meta["em"] in (0.0, 1.0)
    assert s.meta["em"] <= s.meta["f1"] or s.meta["f1"] == pytest.approx(1.0)
    json.dumps(s.to_dict())
