"""evalkit.aggregate: per model x scorer x slice summaries and the paired closed - open gaps."""

from __future__ import annotations

from pathlib import Path

import pytest
from _runfolder import res, write_run

from evalkit.aggregate import Aggregator, ErrorPolicy, aggregate, build_aggregator
from evalkit.errors import RunDirError
from evalkit.ledger import read_manifest
from evalkit.summary import ALL
from evalkit.types import ErrorKind


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
    assert g.p_value is None and "seed 3" in g.method and g.gap == pytest.approx(0.3625)
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
