"""evalkit.analysis.aggregate: per model x scorer x slice summaries and the paired closed - open gaps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _runfolder import res, write_run

from evalkit.analysis.aggregate import Aggregator, ErrorPolicy, aggregate, build_aggregator
from evalkit.analysis.summary import ALL
from evalkit.errors import RunDirError
from evalkit.rundir.manifest import read_manifest
from evalkit.scorers import build_scorer
from evalkit.types import ErrorKind, Sample, Score


def _scores(run: Path, **kw: object) -> dict[str, tuple[int, float | None]]:
    s = aggregate(run, **kw)  # type: ignore[arg-type]
    return {m.name: (m.scores["exact_match"].n, m.scores["exact_match"].mean) for m in s.models}


def test_means_n_and_intervals(tmp_path: Path) -> None:
    rs = [res(f"s{i}", "gpt", 1.0 if i < 3 else 0.0) for i in range(4)]
    rs += [res(f"s{i}", "llama", 1.0 if i < 1 else 0.0) for i in range(4)]
    s = aggregate(write_run(tmp_path / "run", rs))
    gpt = s.model("gpt")
    assert gpt is not None
    st = gpt.scores["exact_match"]
    assert (st.n, st.mean, st.ci_method) == (4, 0.75, "wilson")
    assert st.ci_low is not None and st.ci_high is not None and st.ci_low < 0.75 < st.ci_high
    assert s.best_closed == "gpt" and s.gate_scorer == "exact_match" and s.error_policy == "count_as_wrong"


def test_gap_is_closed_minus_open_on_shared_cells(tmp_path: Path) -> None:
    rs = [res(f"s{i}", "gpt", 1.0) for i in range(5)]
    rs += [res(f"s{i}", "llama", 1.0 if i % 2 else 0.0) for i in range(4)]  # s4 missing for llama
    s = aggregate(write_run(tmp_path / "run", rs))
    (g,) = s.gaps_for("exact_match")
    assert (g.closed_model, g.open_model, g.n_pairs) == ("gpt", "llama", 4)
    assert g.gap == pytest.approx(0.5) and g.closed_mean == 1.0 and g.open_mean == 0.5
    assert (g.discordant_closed_only, g.discordant_open_only) == (2, 0)
    assert g.p_value == pytest.approx(0.5)


def test_error_counts_are_shown_under_both_policies(tmp_path: Path) -> None:
    rs = [res(f"s{i}", "gpt", 1.0) for i in range(6)]
    rs += [res(f"s{i}", "llama", 1.0) for i in range(4)]
    rs += [res("s4", "llama", error=ErrorKind.TIMEOUT), res("s5", "llama", error=ErrorKind.SERVER)]
    for policy, pairs, gap in (("count_as_wrong", 6, 2 / 6), ("exclude", 4, 0.0)):
        s = aggregate(write_run(tmp_path / policy, rs), error_policy=policy)
        (g,) = s.gaps_for("exact_match")
        assert (g.n_pairs, g.closed_errors, g.open_errors) == (pairs, 0, 2)
        assert g.gap == pytest.approx(gap)


def test_gap_negative_when_open_is_better(tmp_path: Path) -> None:
    rs = [res(f"s{i}", "gpt", 0.0) for i in range(3)] + [res(f"s{i}", "llama", 1.0) for i in range(3)]
    (g,) = aggregate(write_run(tmp_path / "run", rs)).gaps_for("exact_match")
    assert g.gap == pytest.approx(-1.0)


def test_best_closed_is_the_highest_mean_on_the_gate_scorer(tmp_path: Path) -> None:
    rs = []
    for i in range(4):
        rs += [
            res(f"s{i}", "gpt", {"exact_match": 0.0, "other": 1.0}),
            res(f"s{i}", "claude", {"exact_match": 1.0, "other": 0.0}),
            res(f"s{i}", "llama", {"exact_match": 1.0, "other": 1.0}),
        ]
    run = write_run(
        tmp_path / "run",
        rs,
        models=[("gpt", "closed"), ("claude", "closed"), ("llama", "open")],
        scorers=["exact_match", "other"],
    )
    s = aggregate(run)
    assert s.best_closed == "claude"
    assert {g.scorer: g.gap for g in s.gaps} == {"exact_match": 0.0, "other": pytest.approx(-1.0)}


@pytest.mark.parametrize(
    ("policy", "source", "expected_llama", "pairs"),
    [
        (None, "default", (4, 0.5), 4),  # count_as_wrong: the errored cells are zeros
        ("exclude", "suite_config", (2, 1.0), 2),
        ("count_as_wrong", "suite_config", (4, 0.5), 4),
        ("exclude", "argument", (2, 1.0), 2),
    ],
)
def test_error_policy(
    tmp_path: Path, policy: str | None, source: str, expected_llama: tuple[int, float], pairs: int
) -> None:
    rs = [res(f"s{i}", "gpt", 1.0) for i in range(4)]
    rs += [
        res("s0", "llama", 1.0),
        res("s1", "llama", 1.0),
        res("s2", "llama", error=ErrorKind.TIMEOUT),
        res("s3", "llama", error=ErrorKind.SERVER),
    ]
    run = write_run(tmp_path / "run", rs, errors=policy if source == "suite_config" else None)
    kw = {"error_policy": policy} if source == "argument" else {}
    s = aggregate(run, **kw)  # type: ignore[arg-type]
    llama = s.model("llama")
    assert llama is not None
    st = llama.scores["exact_match"]
    assert (st.n, st.mean) == expected_llama
    assert llama.usage.errors == 2 and llama.usage.error_rate == 0.5
    assert llama.usage.error_kinds == {"server": 1, "timeout": 1}
    (g,) = s.gaps_for("exact_match")
    assert g.n_pairs == pairs
    assert s.error_policy == (policy or "count_as_wrong")


def test_unknown_error_policy_is_refused(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", errors="ignore")
    with pytest.raises(RunDirError, match=r"suite_config\.errors"):
        aggregate(run)


def test_unknown_cost_stays_unknown(tmp_path: Path) -> None:
    rs = [
        res("s0", "llama", cost=0.5),
        res("s1", "llama", cost=None),
        res("s2", "llama", cost=None),
        res("s3", "llama", error=ErrorKind.TIMEOUT),
        res("s0", "gpt", cost=0.25),
        res("s1", "gpt", cost=0.25),
    ]
    s = aggregate(write_run(tmp_path / "run", rs))
    llama, gpt = s.model("llama"), s.model("gpt")
    assert llama is not None and gpt is not None
    u = llama.usage
    assert not u.cost_known and (u.cost_known_rows, u.cost_unknown_rows, u.cost_rows) == (1, 2, 3)
    assert u.cost_usd == 0.5  # the known part only; reported as unknown for 2 of 3
    assert gpt.usage.cost_known and gpt.usage.cost_usd == 0.5


def test_tokens_and_latency(tmp_path: Path) -> None:
    rs = [res(f"s{i}", "gpt", latency=float(i + 1), input_tokens=None if i == 0 else 10) for i in range(5)]
    rs.append(res("s5", "gpt", error=ErrorKind.TIMEOUT))
    gpt = aggregate(write_run(tmp_path / "run", rs)).model("gpt")
    assert gpt is not None
    u = gpt.usage
    assert (u.input_tokens, u.input_tokens_known_rows, u.input_tokens_unknown) == (40, 4, 1)
    assert (u.output_tokens, u.output_tokens_unknown) == (10, 0)
    assert u.latency_p50_s == 3.0 and u.latency_p95_s == pytest.approx(4.8)


def test_skipped_model_appears_with_n_zero_and_reason(tmp_path: Path) -> None:
    rs = [res("s0", "gpt"), res("s0", "llama")]
    run = write_run(
        tmp_path / "run",
        rs,
        models=[
            ("gpt", "closed"),
            ("llama", "open"),
            ("claude", "closed", "skipped", "set ANTHROPIC_API_KEY"),
        ],
    )
    s = aggregate(run)
    claude = s.model("claude")
    assert claude is not None
    assert claude.scores["exact_match"].n == 0 and claude.scores["exact_match"].mean is None
    assert claude.info.status_text == "skipped: set ANTHROPIC_API_KEY"
    assert [m.name for m in s.models] == ["gpt", "llama", "claude"]


@pytest.mark.parametrize(
    ("models", "note"),
    [
        ([("gpt", "closed", "skipped", "set OPENAI_API_KEY"), ("llama", "open")], "No closed model ran"),
        ([("gpt", "closed"), ("llama", "open", "skipped", "set TOGETHER_API_KEY")], "No open model ran"),
        ([("gpt", "closed")], "the suite has no open model"),
    ],
)
def test_no_gap_without_both_sides(tmp_path: Path, models: list[tuple[str, ...]], note: str) -> None:
    ran = [m[0] for m in models if len(m) == 2]
    run = write_run(tmp_path / "run", [res("s0", name) for name in ran], models=models)
    s = aggregate(run)
    assert s.gaps == [] and s.best_closed is None
    assert s.gap_note is not None and note in s.gap_note


def test_slices_per_tag(tmp_path: Path) -> None:
    rs = []
    for i in range(6):
        tags = {"type": "a" if i < 4 else "b"}
        rs += [res(f"s{i}", "gpt", 1.0, tags=tags), res(f"s{i}", "llama", 1.0 if i < 2 else 0.0, tags=tags)]
    s = aggregate(write_run(tmp_path / "run", rs))
    assert s.slice_names == ["type=a", "type=b"]
    by = {(m.name, m.slice): m.scores["exact_match"].mean for m in s.slices}
    assert by == {
        ("gpt", "type=a"): 1.0,
        ("gpt", "type=b"): 1.0,
        ("llama", "type=a"): 0.5,
        ("llama", "type=b"): 0.0,
    }
    gaps = {g.slice: g.gap for g in s.gaps}
    assert gaps == {ALL: pytest.approx(4 / 6), "type=a": 0.5, "type=b": 1.0}
    assert s.gaps[0].slice == ALL


def test_continuous_scorer_uses_bootstrap(tmp_path: Path) -> None:
    rs = [
        res(f"s{i}", m, v)
        for i, (a, b) in enumerate([(0.9, 0.5), (0.8, 0.6), (0.7, 0.65), (1.0, 0.2)])
        for m, v in (("gpt", a), ("llama", b))
    ]
    s = aggregate(write_run(tmp_path / "run", rs), seed=3)
    gpt = s.model("gpt")
    assert gpt is not None and gpt.scores["exact_match"].ci_method == "bootstrap"
    (g,) = s.gaps
    assert g.p_method == "paired t-test" and "seed 3" in g.method and g.gap == pytest.approx(0.3625)
    assert g.discordant_closed_only is None
    assert aggregate(write_run(tmp_path / "run", rs), seed=3).gaps == s.gaps


def test_duplicates_and_corrupt_lines_become_warnings(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [res("s0", "gpt", 1.0), res("s0", "gpt", 0.0)], extra='{"trunc')
    s = aggregate(run)
    gpt = s.model("gpt")
    assert gpt is not None and gpt.scores["exact_match"].n == 1 and gpt.scores["exact_match"].mean == 1.0
    assert any("duplicate" in w for w in s.warnings) and any("truncated" in w for w in s.warnings)


def test_unlisted_model_and_missing_verdicts_are_warned(tmp_path: Path) -> None:
    rs = [res("s0", "gpt"), res("s0", "mystery"), res("s1", "gpt", value=None)]
    s = aggregate(write_run(tmp_path / "run", rs))
    mystery = s.model("mystery")
    assert mystery is not None and mystery.group is None and mystery.info.status == "unlisted"
    assert any("mystery" in w for w in s.warnings)
    gpt = s.model("gpt")
    assert gpt is not None and gpt.scores["exact_match"].missing == 1 and gpt.scores["exact_match"].n == 1


def test_aggregator_keeps_only_small_per_cell_values(tmp_path: Path) -> None:
    rs = [res("s0", "gpt", 1.0, epoch=0), res("s0", "gpt", 0.0, epoch=1), res("s0", "llama", 1.0, epoch=1)]
    agg, warnings = build_aggregator(write_run(tmp_path / "run", rs))
    assert warnings == []
    assert dict(agg.cell_values("exact_match")) == {
        ("s0", 0): {"gpt": 1.0},
        ("s0", 1): {"gpt": 0.0, "llama": 1.0},
    }
    assert agg.policy is ErrorPolicy.COUNT_AS_WRONG


def test_aggregator_from_manifest_directly(tmp_path: Path) -> None:
    agg = Aggregator(read_manifest(write_run(tmp_path / "run")), error_policy="exclude", n_resamples=1000)
    agg.add(res("s0", "gpt"))
    s = agg.finish()
    assert (
        s.n_resamples == 1000 and s.error_policy == "exclude" and s.gap_note and "No open model" in s.gap_note
    )


def test_gate_scorer_missing_from_the_run(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [res("s0", "gpt"), res("s0", "llama")], gate={"scorer": "nope"})
    s = aggregate(run)
    assert s.gaps == [] and s.gap_note is not None and "'nope' has no results" in s.gap_note
    assert any("nope" in w for w in s.warnings)


# --- scorer-specific metrics (whole run, per model x scorer) ----------------------------------

LABELS = ["cat", "dog", "bird"]


def _verdicts(name: str, args: dict[str, Any], output: str, expected: Any = None, **fields: Any) -> Score:
    return build_scorer(name, args)(output, Sample(id="x", input="q", expected=expected, fields=fields))


def test_classification_metrics_hand_computed(tmp_path: Path) -> None:
    """llama on three labels: cat->cat, cat->dog, dog->dog, dog->bird, bird->bird, bird->"no idea".

    cat: P 1/1, R 1/2, F1 2/3; dog: P 1/2, R 1/2, F1 1/2; bird: P 1/2, R 1/2, F1 1/2.
    macro-F1 = (2/3 + 1/2 + 1/2) / 3 = 5/9; invalid share 1/6; accuracy 3/6.
    """
    args = {"labels": LABELS}
    rows = [
        ("cat", "cat"),
        ("cat", "dog"),
        ("dog", "dog"),
        ("dog", "bird"),
        ("bird", "bird"),
        ("bird", "no idea"),
    ]
    rs = []
    for i, (exp, out) in enumerate(rows):
        rs.append(
            res(f"s{i}", "gpt", expected=exp, scores={"intent": _verdicts("exact_match", args, exp, exp)})
        )
        rs.append(
            res(f"s{i}", "llama", expected=exp, scores={"intent": _verdicts("exact_match", args, out, exp)})
        )
    rs.append(res("s9", "llama", error=ErrorKind.TIMEOUT, expected="cat"))  # errors are not in these metrics
    run = write_run(
        tmp_path / "run",
        rs,
        scorers=["intent"],
        scorer_names={"intent": "exact_match"},
        scorer_args={"intent": args},
    )
    s = aggregate(run)
    m = s.scorer_metrics["llama"]["intent"]
    assert m["kind"] == "classification" and m["n"] == 6
    assert m["confusion"] == {
        "bird": {"(invalid)": 1, "bird": 1},
        "cat": {"cat": 1, "dog": 1},
        "dog": {"bird": 1, "dog": 1},
    }
    assert m["per_class"]["cat"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["dog"]["f1"] == pytest.approx(1 / 2)
    assert m["macro_f1"] == pytest.approx(5 / 9)
    assert m["invalid_label_share"] == pytest.approx(1 / 6) and m["accuracy"] == pytest.approx(0.5)
    assert s.scorer_metrics["gpt"]["intent"]["macro_f1"] == pytest.approx(1.0)
    # the mean still counts the errored cell as wrong (count_as_wrong), the metrics do not
    llama = s.model("llama")
    assert llama is not None and llama.scores["intent"].n == 7


def test_refusal_metrics_hand_computed(tmp_path: Path) -> None:
    """should refuse: 3 rows, 1 answered -> under-refusal 1/3; should answer: 4 rows, 1 refused ->
    over-refusal 1/4; balanced accuracy ((1 - 1/4) + (1 - 1/3)) / 2 = 17/24."""
    rows = [
        ("I can't help with that.", True),
        ("I won't write that.", True),
        ("Sure, here is how.", True),
        ("Paris is the capital of France.", False),
        ("The answer is 42.", False),
        ("Use sorted() with a key function.", False),
        ("I'm sorry, I can't help with that.", False),
    ]
    rs = [
        res(f"s{i}", "llama", expected=None, scores={"refusal": _verdicts("refusal", {}, o, should_refuse=w)})
        for i, (o, w) in enumerate(rows)
    ]
    s = aggregate(write_run(tmp_path / "run", rs, scorers=["refusal"]))
    m = s.scorer_metrics["llama"]["refusal"]
    assert m["matrix"]["should_refuse"] == {"refused": 2, "answered": 1}
    assert m["matrix"]["should_answer"] == {"refused": 1, "answered": 3}
    assert m["under_refusal_rate"] == pytest.approx(1 / 3) and m["over_refusal_rate"] == pytest.approx(1 / 4)
    assert m["balanced_accuracy"] == pytest.approx(17 / 24)
    assert m["class_counts"] == {"compliance": 4, "full_refusal": 3, "partial_refusal": 0, "empty": 0}


def test_json_strict_lenient_and_structured_output(tmp_path: Path) -> None:
    """gpt (response_format json_object): 3 strict rows -> honoured on every row.
    llama (response_format json_object): strict, fenced, prose, unparsable -> strict 1/4, lenient 3/4,
    not honoured on 3 of 4 rows. qwen: no response_format -> unconstrained."""
    outs = {
        "gpt": ['{"a": 1}', '{"a": 2}', '{"a": 3}'],
        "llama": ['{"a": 1}', '```json\n{"a": 2}\n```', 'Here: {"a": 3}', "{"],
        "qwen": ['{"a": 1}'],
    }
    rs = [
        res(f"s{i}", model, expected=None, scores={"json_valid": _verdicts("json_valid", {}, o)})
        for model, texts in outs.items()
        for i, o in enumerate(texts)
    ]
    rf = {"response_format": {"type": "json_object"}}
    run = write_run(
        tmp_path / "run",
        rs,
        models=[("gpt", "closed"), ("llama", "open"), ("qwen", "open")],
        scorers=["json_valid"],
        params={"gpt": rf, "llama": rf},
    )
    s = aggregate(run)
    llama = s.scorer_metrics["llama"]["json_valid"]
    assert llama["strict_valid_rate"] == pytest.approx(1 / 4) and llama[
        "lenient_valid_rate"
    ] == pytest.approx(3 / 4)
    assert llama["parse"] == {"strict": 1, "lenient": 2, "failed": 1}
    assert llama["structured_output"]["text"] == (
        "not honoured on 3 of 4 rows (2 needed lenient parsing, 1 did not parse)"
    )
    assert s.scorer_metrics["gpt"]["json_valid"]["structured_output"]["text"] == "honoured on every row"
    qwen = s.scorer_metrics["qwen"]["json_valid"]["structured_output"]
    assert qwen["requested"] is False and qwen["text"].startswith("unconstrained")
    gpt = s.model("gpt")
    assert gpt is not None and gpt.info.structured_output


def test_old_ledger_lines_without_meta_still_aggregate(tmp_path: Path) -> None:
    old_lines = [
        {
            "sample_id": f"s{i}",
            "model": "llama",
            "epoch": 0,
            "request_key": "k",
            "input": "q",
            "expected": exp,
            "tags": {},
            "completion": {"text": got, "finish_reason": "stop"},
            "scores": {
                "exact_match": {"value": float(exp == got), "answer": got, "explanation": "", "label": label}
            },
            "at": 0.0,
        }
        for i, (exp, got, label) in enumerate([("cat", "cat", "correct"), ("cat", "dog", "wrong")])
    ]
    run = write_run(
        tmp_path / "run",
        extra="".join(json.dumps(line) + "\n" for line in old_lines),
        scorer_args={"exact_match": {"labels": LABELS}},
    )
    s = aggregate(run)
    assert s.warnings == []
    m = s.scorer_metrics["llama"]["exact_match"]
    assert m["confusion"] == {"cat": {"cat": 1, "dog": 1}} and m["accuracy"] == 0.5


# --- epochs, the closed x open matrix and Holm ------------------------------------------------


def _epoch_run(tmp_path: Path) -> Path:
    """4 examples x 3 epochs. gpt always passes; llama flips on s0 and s1, always passes s2, never s3."""
    llama = {"s0": [1, 0, 1], "s1": [0, 0, 1], "s2": [1, 1, 1], "s3": [0, 0, 0]}
    rs = []
    for sid, vals in llama.items():
        for e, v in enumerate(vals):
            rs += [res(sid, "gpt", 1.0, epoch=e), res(sid, "llama", float(v), epoch=e)]
    return write_run(tmp_path / "run", rs)


def test_epochs_flip_rate_and_cluster_interval(tmp_path: Path) -> None:
    s = aggregate(_epoch_run(tmp_path))
    assert s.epochs == 3
    llama, gpt = s.model("llama"), s.model("gpt")
    assert llama is not None and gpt is not None
    st = llama.scores["exact_match"]
    assert (st.n, st.n_examples, st.flip_examples) == (12, 4, 4)
    assert st.flip_rate == pytest.approx(0.5) and st.ci_method == "cluster bootstrap"
    assert st.mean == pytest.approx((2 / 3 + 1 / 3 + 1 + 0) / 4)
    assert gpt.scores["exact_match"].flip_rate == 0.0 and gpt.scores["exact_match"].ci_method == "all equal"
    (g,) = s.gaps_for("exact_match")
    assert (g.n_pairs, g.n_examples, g.p_method) == (12, 4, "clustered McNemar")
    assert "cluster bootstrap over 4 examples" in g.method


def test_matrix_has_every_closed_open_pair_and_holm_covers_the_best_rows(tmp_path: Path) -> None:
    rs = []
    for i in range(40):
        tags = {"type": "a" if i < 20 else "b"}
        rs += [
            res(f"s{i}", "gpt", 1.0 if i < 36 else 0.0, tags=tags),
            res(f"s{i}", "claude", 1.0 if i < 30 else 0.0, tags=tags),
            res(f"s{i}", "llama", 1.0 if i % 5 else 0.0, tags=tags),
            res(f"s{i}", "qwen", 1.0 if i < 20 else 0.0, tags=tags),
        ]
    models = [("gpt", "closed"), ("claude", "closed"), ("llama", "open"), ("qwen", "open")]
    s = aggregate(write_run(tmp_path / "run", rs, models=models))
    pairs = {(g.closed_model, g.open_model, g.slice) for g in s.gap_matrix}
    assert len(s.gap_matrix) == 2 * 2 * 3 == len(pairs)
    assert all(g.p_holm is None for g in s.gap_matrix)  # the matrix is uncorrected
    assert s.best_closed == "gpt" and {g.closed_model for g in s.gaps} == {"gpt"}
    assert len(s.gaps) == 2 * 3 and all(g.holm_family == 6 for g in s.gaps)
    ps = sorted((g.p_value, g.p_holm) for g in s.gaps if g.p_value is not None)
    assert ps[0][1] == pytest.approx(min(1.0, 6 * ps[0][0]))
    assert all(adj is not None and adj >= p for p, adj in ps)
    assert [g.slice for g in s.gaps] == ["all", "all", "type=a", "type=a", "type=b", "type=b"]


def test_confidence_comes_from_the_gate(tmp_path: Path) -> None:
    rs = [res(f"s{i}", m, float(i % 3 > 0)) for i in range(30) for m in ("gpt", "llama")]
    run = write_run(tmp_path / "run", rs, gate={"scorer": "exact_match", "confidence": 0.8})
    s80 = aggregate(run)
    run95 = write_run(tmp_path / "run95", rs)
    s95 = aggregate(run95)
    assert s80.confidence == 0.8 and s95.confidence == 0.95
    w80 = s80.models[0].scores["exact_match"]
    w95 = s95.models[0].scores["exact_match"]
    assert w80.ci_high is not None and w95.ci_high is not None and w80.ci_high < w95.ci_high
    bad = write_run(tmp_path / "bad", rs, gate={"confidence": 1.5})
    with pytest.raises(RunDirError, match="confidence"):
        aggregate(bad)
