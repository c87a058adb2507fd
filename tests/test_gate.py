"""evalkit.analysis.gate: each rule's verdict, the three outcomes and the exit code they map to."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _runfolder import manifest, res, write_run

from evalkit.analysis.aggregate import aggregate
from evalkit.analysis.gate import classify_gap, evaluate_gate, gate_config_from_manifest
from evalkit.analysis.outcome import Overall, RuleStatus, format_gate, gate_exit_code
from evalkit.cli import main
from evalkit.config.schema import GateConfig
from evalkit.errors import ExitCode, RunDirError
from evalkit.rundir.manifest import Manifest
from evalkit.types import ErrorKind

N = 200
# gpt (closed) passes 180 of 200. llama (open) differs on 10 examples: 6 only gpt passed, 4 only
# llama passed -> gap 0.01, 95 % interval about [-0.02, 0.04]. qwen (open) fails 40 that gpt
# passes -> gap 0.2, interval about [0.145, 0.255]. claude (closed) passes 150.
GPT = [1.0] * 180 + [0.0] * 20
VALUES: dict[str, list[float]] = {
    "gpt": GPT,
    "claude": [1.0] * 150 + [0.0] * 50,
    "llama": [0.0] * 6 + [1.0] * 174 + [1.0] * 4 + [0.0] * 16,
    "qwen": [0.0] * 40 + [1.0] * 140 + [0.0] * 20,
}
MODELS: list[tuple[str, ...]] = [("gpt", "closed"), ("claude", "closed"), ("llama", "open"), ("qwen", "open")]


def _run(
    tmp_path: Path,
    *,
    models: Sequence[tuple[str, ...]] = MODELS,
    values: dict[str, list[float]] | None = None,
    errors: dict[str, int] | None = None,
    status: str = "finished",
    **kw: Any,
) -> Path:
    vals = values or VALUES
    rs = []
    for spec in models:
        name = spec[0]
        if len(spec) > 2 and spec[2] == "skipped":
            continue
        v = vals[name]
        n_err = (errors or {}).get(name, 0)
        for i, x in enumerate(v):
            err = i >= len(v) - n_err
            rs.append(res(f"s{i}", name, error=ErrorKind.SERVER) if err else res(f"s{i}", name, x))
    return write_run(tmp_path / "run", rs, models=models, status=status, **kw)


def _gate(run: Path, **cfg: Any) -> tuple[Overall, ExitCode, dict[str, RuleStatus], str | None]:
    outcome = evaluate_gate(aggregate(run), GateConfig.model_validate(cfg))
    return outcome.overall, gate_exit_code(outcome), {r.name: r.status for r in outcome.rules}, outcome.chosen


@pytest.mark.parametrize(
    ("cfg", "overall", "code", "chosen", "rules"),
    [
        ({}, Overall.MIGRATE, ExitCode.OK, None, {"rules": RuleStatus.PASS}),
        (
            {"max_gap": 0.06},
            Overall.MIGRATE,
            ExitCode.OK,
            "llama",
            {"max_gap llama": RuleStatus.PASS, "max_gap qwen": RuleStatus.FAIL},
        ),
        (
            {"max_gap": 0.02},
            Overall.INCONCLUSIVE,
            ExitCode.INCONCLUSIVE,
            None,
            {"max_gap llama": RuleStatus.INCONCLUSIVE, "max_gap qwen": RuleStatus.FAIL},
        ),
        ({"max_gap": 0.02, "inconclusive": "pass"}, Overall.INCONCLUSIVE, ExitCode.OK, None, {}),
        ({"max_gap": 0.25}, Overall.MIGRATE, ExitCode.OK, "llama", {"max_gap qwen": RuleStatus.INCONCLUSIVE}),
        # a floor another candidate fails does not stop the migration to the one that meets it
        (
            {"max_gap": 0.06, "min_score": {"open": 0.8}},
            Overall.MIGRATE,
            ExitCode.OK,
            "llama",
            {"min_score[open] llama": RuleStatus.PASS, "min_score[open] qwen": RuleStatus.FAIL},
        ),
        ({"min_score": {"open": 0.8}}, Overall.MIGRATE, ExitCode.OK, "llama", {}),
        ({"min_score": {"open": 0.95}}, Overall.STAY, ExitCode.GATE_FAILED, None, {}),
        # a closed model below its floor: stay, whatever the open models do
        (
            {"max_gap": 0.06, "min_score": {"closed": 0.8}},
            Overall.STAY,
            ExitCode.GATE_FAILED,
            None,
            {"min_score[closed] claude": RuleStatus.FAIL, "max_gap llama": RuleStatus.PASS},
        ),
        (
            {"max_error_rate": 0.0},
            Overall.MIGRATE,
            ExitCode.OK,
            "llama",
            {"max_error_rate gpt": RuleStatus.PASS},
        ),
    ],
)
def test_outcomes(
    tmp_path: Path,
    cfg: dict[str, Any],
    overall: Overall,
    code: ExitCode,
    chosen: str | None,
    rules: dict[str, RuleStatus],
) -> None:
    got_overall, got_code, got_rules, got_chosen = _gate(_run(tmp_path), **cfg)
    assert (got_overall, got_code, got_chosen) == (overall, code, chosen)
    assert {k: got_rules[k] for k in rules} == rules
    assert got_rules["infrastructure"] is RuleStatus.PASS and got_rules["run_status"] is RuleStatus.PASS


def test_stay_when_every_open_model_is_shown_beyond_the_margin(tmp_path: Path) -> None:
    run = _run(tmp_path, models=[("gpt", "closed"), ("qwen", "open")])
    overall, code, _rules, _chosen = _gate(run, max_gap=0.05)
    assert (overall, code) == (Overall.STAY, ExitCode.GATE_FAILED)
    outcome = evaluate_gate(aggregate(run), GateConfig(max_gap=0.05))
    assert "no open model can take over" in format_gate(outcome).splitlines()[-1]


def test_max_gap_reason_has_the_interval_and_the_examples_needed(tmp_path: Path) -> None:
    outcome = evaluate_gate(aggregate(_run(tmp_path)), GateConfig(max_gap=0.02))
    (llama,) = [r for r in outcome.rules if r.name == "max_gap llama"]
    assert llama.observed == pytest.approx(0.01) and llama.threshold == 0.02
    assert "gap gpt - llama = 0.010 [" in llama.reason and "on 200 examples" in llama.reason
    assert "with 200 examples the gap interval is ±" in llama.reason
    assert "to rule out a 2 pp gap you need about" in llama.reason
    assert llama.needed is not None and llama.needed > N
    verdict = format_gate(outcome).splitlines()[-1]
    assert verdict.startswith("verdict: INCONCLUSIVE") and "llama: with 200 examples" in verdict
    assert verdict.endswith("exit 4")
    assert dict(outcome.candidates) == {"llama": Overall.INCONCLUSIVE, "qwen": Overall.STAY}


def test_migrate_names_the_model_and_its_interval(tmp_path: Path) -> None:
    outcome = evaluate_gate(aggregate(_run(tmp_path)), GateConfig(max_gap=0.06))
    verdict = format_gate(outcome).splitlines()[-1]
    assert verdict.startswith("verdict: MIGRATE to llama: gap gpt - llama = 0.010 [")
    assert "within max_gap 0.060" in verdict and verdict.endswith("exit 0")


def test_inconclusive_pass_prints_a_warning_and_exits_0(tmp_path: Path) -> None:
    outcome = evaluate_gate(aggregate(_run(tmp_path)), GateConfig(max_gap=0.02, inconclusive="pass"))
    lines = format_gate(outcome).splitlines()
    assert lines[-2].startswith("warning: the gate is inconclusive")
    assert lines[-1].startswith("verdict: INCONCLUSIVE") and lines[-1].endswith("exit 0")
    assert outcome.passed


@pytest.mark.parametrize(
    ("low", "high", "n", "status"),
    [
        (-0.01, 0.02, 200, RuleStatus.PASS),
        (-0.01, 0.05, 200, RuleStatus.PASS),  # the bound may touch the margin
        (-0.01, 0.051, 200, RuleStatus.INCONCLUSIVE),
        (0.051, 0.09, 200, RuleStatus.FAIL),
        (0.05, 0.09, 200, RuleStatus.INCONCLUSIVE),
        (-0.01, 0.02, 29, RuleStatus.INCONCLUSIVE),  # unreliable below 30: never migrate
        (-0.01, 0.02, 30, RuleStatus.PASS),
        (0.06, 0.3, 10, RuleStatus.FAIL),  # ... but may still stay
    ],
)
def test_classify_gap(low: float, high: float, n: int, status: RuleStatus) -> None:
    assert classify_gap(low, high, 0.05, n) is status


def test_fewer_than_30_examples_say_the_interval_is_unreliable(tmp_path: Path) -> None:
    vals = {"gpt": [1.0] * 20, "llama": [1.0] * 20}
    run = _run(tmp_path, models=[("gpt", "closed"), ("llama", "open")], values=vals)
    outcome = evaluate_gate(aggregate(run), GateConfig(max_gap=0.2))
    (rule,) = [r for r in outcome.rules if r.name == "max_gap llama"]
    # no discordant pair in 20: the exact worst case is ±0.168, within 0.2 -- but only 20 examples
    assert rule.status is RuleStatus.INCONCLUSIVE and "unreliable below 30 examples" in rule.reason
    assert gate_exit_code(outcome) == ExitCode.INCONCLUSIVE


@pytest.mark.parametrize(
    ("n", "overall", "fragment"),
    [
        (200, Overall.MIGRATE, "upper bound 0.018 <= max_gap 0.030"),
        (50, Overall.INCONCLUSIVE, "to rule out a 3 pp gap you need about 130"),  # 122, rounded up
    ],
)
def test_all_correct_is_not_a_certainty(tmp_path: Path, n: int, overall: Overall, fragment: str) -> None:
    vals = {"gpt": [1.0] * n, "llama": [1.0] * n}
    run = _run(tmp_path, models=[("gpt", "closed"), ("llama", "open")], values=vals)
    outcome = evaluate_gate(aggregate(run), GateConfig(max_gap=0.03))
    assert outcome.overall is overall
    assert fragment in format_gate(outcome)


def test_max_error_rate_failing_candidates_stay(tmp_path: Path) -> None:
    overall, code, rules, _ = _gate(_run(tmp_path, errors={"llama": 10, "qwen": 10}), max_error_rate=0.02)
    assert (overall, code) == (Overall.STAY, ExitCode.GATE_FAILED)
    assert rules["max_error_rate llama"] is RuleStatus.FAIL and rules["max_error_rate gpt"] is RuleStatus.PASS


def test_every_request_failed_is_infrastructure(tmp_path: Path) -> None:
    overall, code, rules, _ = _gate(_run(tmp_path, errors={"llama": N}), max_gap=0.5)
    assert (overall, code) == (Overall.INFRASTRUCTURE, ExitCode.INFRASTRUCTURE)
    assert rules["infrastructure"] is RuleStatus.INFRASTRUCTURE


def test_stopped_model_is_infrastructure(tmp_path: Path) -> None:
    models = [("gpt", "closed"), ("llama", "open", "stopped", "401 from the provider")]
    outcome = evaluate_gate(aggregate(_run(tmp_path, models=models)), GateConfig())
    assert gate_exit_code(outcome) == ExitCode.INFRASTRUCTURE
    assert "401 from the provider" in outcome.rules[1].reason


def test_no_model_ran_is_infrastructure(tmp_path: Path) -> None:
    models = [("gpt", "closed", "skipped", "set OPENAI_API_KEY")]
    outcome = evaluate_gate(aggregate(_run(tmp_path, models=models)), GateConfig())
    assert gate_exit_code(outcome) == ExitCode.INFRASTRUCTURE
    assert "no model ran (every model was skipped)" in format_gate(outcome)


@pytest.mark.parametrize(
    ("models", "cfg", "rule"),
    [
        (
            [("gpt", "closed", "skipped", "set OPENAI_API_KEY"), ("llama", "open")],
            {"max_gap": 0.1},
            "max_gap",
        ),
        (
            [("gpt", "closed"), ("llama", "open", "skipped", "set TOGETHER_API_KEY")],
            {"max_gap": 0.1},
            "max_gap",
        ),
        (
            [("gpt", "closed"), ("llama", "open", "skipped", "set TOGETHER_API_KEY")],
            {"min_score": {"open": 0.5}},
            "min_score[open]",
        ),
    ],
)
def test_unevaluable_rule_is_insufficient_not_pass(
    tmp_path: Path, models: list[tuple[str, ...]], cfg: dict[str, Any], rule: str
) -> None:
    outcome = evaluate_gate(aggregate(_run(tmp_path, models=models)), GateConfig.model_validate(cfg))
    assert outcome.overall is Overall.INFRASTRUCTURE and gate_exit_code(outcome) == ExitCode.INFRASTRUCTURE
    (verdict,) = [r for r in outcome.rules if r.name == rule]
    assert verdict.status is RuleStatus.INSUFFICIENT and not verdict.passed
    assert "ran" in verdict.reason
    assert any("skipped" in n for n in outcome.notes)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("finished", Overall.MIGRATE),
        ("running", Overall.INFRASTRUCTURE),
        ("interrupted", Overall.INFRASTRUCTURE),
        ("failed", Overall.INFRASTRUCTURE),
    ],
)
def test_run_status(tmp_path: Path, status: str, expected: Overall) -> None:
    overall, _code, _rules, _ = _gate(_run(tmp_path, status=status))
    assert overall is expected


@pytest.mark.parametrize("status", ["running", "interrupted"])
def test_unfinished_run_cannot_pass_and_says_how_to_resume(tmp_path: Path, status: str) -> None:
    """A killed run (run.json still 'running') or an interrupted one holds partial results: exit 3."""
    outcome = evaluate_gate(
        aggregate(_run(tmp_path, status=status)), GateConfig.model_validate({"max_gap": 0.5})
    )
    assert outcome.overall is Overall.INFRASTRUCTURE and gate_exit_code(outcome) == ExitCode.INFRASTRUCTURE
    (rule,) = [r for r in outcome.rules if r.name == "run_status"]
    assert rule.status is RuleStatus.INSUFFICIENT
    assert "did not finish" in rule.reason and "evalkit run --resume" in rule.reason
    assert f"'{status}'" in rule.reason
    finished = evaluate_gate(aggregate(_run(tmp_path / "f", status="finished")), GateConfig(max_gap=0.5))
    assert finished.overall is not Overall.INFRASTRUCTURE  # the same data, finished, is decided


def test_format_gate_one_line_per_rule_then_verdict(tmp_path: Path) -> None:
    outcome = evaluate_gate(
        aggregate(_run(tmp_path)),
        GateConfig.model_validate({"min_score": {"open": 0.95}, "max_gap": 0.06, "max_error_rate": 0.5}),
    )
    lines = format_gate(outcome).splitlines()
    assert len(lines) == len(outcome.rules) + len(outcome.notes) + 1
    assert lines[-1].startswith("verdict: STAY") and lines[-1].endswith("exit 1")
    assert any(line.startswith("FAIL") and "min_score[open] qwen" in line for line in lines)
    assert any(line.startswith("PASS") and "max_gap llama" in line for line in lines)


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        (None, GateConfig()),
        (
            {"scorer": "exact_match", "max_gap": None, "min_score": {"open": 0.5}, "max_error_rate": None},
            GateConfig.model_validate({"scorer": "exact_match", "min_score": {"open": 0.5}}),
        ),
        ({"max_gap": 0.03, "inconclusive": "pass"}, GateConfig(max_gap=0.03, inconclusive="pass")),
    ],
)
def test_gate_config_from_manifest(gate: dict[str, Any] | None, expected: GateConfig) -> None:
    m = manifest()
    m["gate"] = gate
    assert gate_config_from_manifest(Manifest(m)) == expected


@pytest.mark.parametrize("gate", [{"max_gap": 7}, {"inconclusive": "maybe"}])
def test_gate_config_from_manifest_invalid(gate: dict[str, Any]) -> None:
    m = manifest()
    m["gate"] = gate
    with pytest.raises(RunDirError, match=r"gate\."):
        gate_config_from_manifest(Manifest(m))


def test_gate_scorer_without_results_is_insufficient(tmp_path: Path) -> None:
    overall, code, rules, _ = _gate(_run(tmp_path), scorer="nope", max_gap=0.1)
    assert (overall, code) == (Overall.INFRASTRUCTURE, ExitCode.INFRASTRUCTURE)
    assert rules["gate_scorer"] is RuleStatus.INSUFFICIENT


@pytest.mark.parametrize(
    ("gate", "code", "last"),
    [
        ({"max_gap": 0.06}, 0, "verdict: MIGRATE to llama"),
        ({"max_gap": 0.02}, 4, "verdict: INCONCLUSIVE"),
        ({"max_gap": 0.02, "inconclusive": "pass"}, 0, "verdict: INCONCLUSIVE"),
        ({"max_gap": 0.02, "min_score": {"open": 0.95}}, 1, "verdict: STAY"),
        ({"max_gap": "lots"}, 2, None),
    ],
)
def test_cli_gate_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gate: dict[str, Any], code: int, last: str | None
) -> None:
    run = _run(tmp_path, gate={"scorer": "exact_match", **gate})
    assert main(["gate", str(run)]) == code
    out, err = capsys.readouterr()
    if last is None:
        assert "gate.max_gap" in err and out == ""
    else:
        assert out.strip().splitlines()[-1].startswith(last)


def test_inconclusive_advice_and_report_sentence_name_the_same_open_model(tmp_path: Path) -> None:
    """Two inconclusive candidates at max_gap 0.03: llama's gap interval has the lower upper bound
    (0.045 vs 0.12), mist needs fewer examples to decide (its gap, 0.08, is far from the margin).
    The gate's advice and the report's verdict sentence must both name llama (closest_candidate)."""
    from evalkit.analysis.gate import closest_candidate
    from evalkit.report.verdict import task_verdict

    values = {
        "gpt": GPT,
        "llama": VALUES["llama"],
        "mist": [0.0] * 18
        + [1.0] * 162
        + [1.0] * 4
        + [0.0] * 16,  # 18 only gpt passed, 4 only mist: gap 0.07
    }
    models = [("gpt", "closed"), ("llama", "open"), ("mist", "open")]
    summary = aggregate(_run(tmp_path, models=models, values=values))
    outcome = evaluate_gate(summary, GateConfig(max_gap=0.03))
    assert outcome.overall is Overall.INCONCLUSIVE
    gaps = {r.candidate: r for r in outcome.rules if r.name.startswith("max_gap")}
    assert gaps["llama"].upper is not None and gaps["mist"].upper is not None
    assert gaps["llama"].upper < gaps["mist"].upper
    assert gaps["mist"].needed is not None and gaps["llama"].needed is not None
    assert gaps["mist"].needed < gaps["llama"].needed  # the old advice rule (fewest needed) picked mist
    assert outcome.closest == "llama" == closest_candidate(outcome.rules, dict(outcome.candidates))
    assert outcome.advice is not None and outcome.advice.startswith("llama: ")
    verdict = task_verdict(summary, outcome, 0.03)
    assert verdict.gap is not None and verdict.gap.open_model == "llama"
    assert "gpt − llama" in verdict.sentence and "mist" not in verdict.sentence
    assert outcome.advice in verdict.sentence


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        # (candidate, status, upper, needed): lowest upper bound wins, then fewest needed, then the name
        ([("a", "inconclusive", 0.06, 900), ("b", "inconclusive", 0.05, 2000)], "b"),
        ([("a", "inconclusive", 0.05, 900), ("b", "inconclusive", 0.05, 300)], "b"),
        ([("b", "inconclusive", 0.05, 300), ("a", "inconclusive", 0.05, 300)], "a"),
        ([("a", "fail", 0.01, None), ("b", "inconclusive", 0.2, 50)], "b"),  # a stays: not a candidate here
        ([("a", "fail", 0.3, None)], None),
    ],
)
def test_closest_candidate_rule(
    rules: list[tuple[str, str, float, int | None]], expected: str | None
) -> None:
    from evalkit.analysis.gate import closest_candidate
    from evalkit.analysis.outcome import RuleVerdict

    verdicts = [
        RuleVerdict(f"max_gap {c}", RuleStatus(st), 0.0, 0.03, "why", c, "advice", n, up)
        for c, st, up, n in rules
    ]
    cands = {c: Overall.STAY if st == "fail" else Overall.INCONCLUSIVE for c, st, _u, _n in rules}
    assert closest_candidate(verdicts, cands) == expected
