"""evalkit.gate: each rule's verdict and the exit code it maps to."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _runfolder import manifest, res, write_run

from evalkit.aggregate import aggregate
from evalkit.errors import ExitCode, RunDirError
from evalkit.gate import (
    Overall,
    RuleStatus,
    evaluate_gate,
    format_gate,
    gate_config_from_manifest,
    gate_exit_code,
)
from evalkit.suite import GateConfig
from evalkit.types import ErrorKind

# 10 samples; gpt (closed) passes 9, claude (closed) 6, llama (open) 8, qwen (open) 5.
PASSES = {"gpt": 9, "claude": 6, "llama": 8, "qwen": 5}
MODELS: list[tuple[str, ...]] = [("gpt", "closed"), ("claude", "closed"), ("llama", "open"), ("qwen", "open")]


def _run(
    tmp_path: Path,
    *,
    models: Sequence[tuple[str, ...]] = MODELS,
    errors: dict[str, int] | None = None,
    status: str = "finished",
) -> Path:
    rs = []
    for spec in models:
        name = spec[0]
        if len(spec) > 2 and spec[2] == "skipped":
            continue
        n_err = (errors or {}).get(name, 0)
        for i in range(10):
            if i >= 10 - n_err:
                rs.append(res(f"s{i}", name, error=ErrorKind.SERVER))
            else:
                rs.append(res(f"s{i}", name, 1.0 if i < PASSES[name] else 0.0))
    return write_run(tmp_path / "run", rs, models=models, status=status)


def _gate(run: Path, **cfg: Any) -> tuple[Overall, ExitCode, dict[str, RuleStatus]]:
    outcome = evaluate_gate(aggregate(run), GateConfig.model_validate(cfg))
    return outcome.overall, gate_exit_code(outcome), {r.name: r.status for r in outcome.rules}


@pytest.mark.parametrize(
    ("cfg", "overall", "code", "rule", "status"),
    [
        ({}, Overall.PASS, ExitCode.OK, "rules", RuleStatus.PASS),
        ({"min_score": {"open": 0.5}}, Overall.PASS, ExitCode.OK, "min_score[open] qwen", RuleStatus.PASS),
        (
            {"min_score": {"open": 0.6}},
            Overall.FAIL,
            ExitCode.GATE_FAILED,
            "min_score[open] qwen",
            RuleStatus.FAIL,
        ),
        (
            {"min_score": {"closed": 0.9}},
            Overall.FAIL,
            ExitCode.GATE_FAILED,
            "min_score[closed] claude",
            RuleStatus.FAIL,
        ),
        # best closed gpt 0.9; llama gap 0.1, qwen 0.4: at least one open model within max_gap passes
        ({"max_gap": 0.1}, Overall.PASS, ExitCode.OK, "max_gap", RuleStatus.PASS),
        ({"max_gap": 0.05}, Overall.FAIL, ExitCode.GATE_FAILED, "max_gap", RuleStatus.FAIL),
        ({"max_error_rate": 0.0}, Overall.PASS, ExitCode.OK, "max_error_rate llama", RuleStatus.PASS),
    ],
)
def test_rules(
    tmp_path: Path, cfg: dict[str, Any], overall: Overall, code: ExitCode, rule: str, status: RuleStatus
) -> None:
    got_overall, got_code, rules = _gate(_run(tmp_path), **cfg)
    assert (got_overall, got_code) == (overall, code)
    assert rules[rule] is status
    assert rules["infrastructure"] is RuleStatus.PASS and rules["run_status"] is RuleStatus.PASS


def test_max_gap_observed_is_the_smallest_gap(tmp_path: Path) -> None:
    outcome = evaluate_gate(aggregate(_run(tmp_path)), GateConfig(max_gap=0.1))
    (rule,) = [r for r in outcome.rules if r.name == "max_gap"]
    assert rule.observed == pytest.approx(0.1) and rule.threshold == 0.1
    assert "gpt - llama" in rule.reason and "qwen 0.400" in rule.reason


def test_max_error_rate_fails(tmp_path: Path) -> None:
    overall, code, rules = _gate(_run(tmp_path, errors={"qwen": 2}), max_error_rate=0.1)
    assert (overall, code) == (Overall.FAIL, ExitCode.GATE_FAILED)
    assert rules["max_error_rate qwen"] is RuleStatus.FAIL and rules["max_error_rate gpt"] is RuleStatus.PASS


def test_every_request_failed_is_infrastructure(tmp_path: Path) -> None:
    overall, code, rules = _gate(_run(tmp_path, errors={"llama": 10}), max_gap=0.5)
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
        ("finished", Overall.PASS),
        ("running", Overall.PASS),
        ("interrupted", Overall.INFRASTRUCTURE),
        ("failed", Overall.INFRASTRUCTURE),
    ],
)
def test_run_status(tmp_path: Path, status: str, expected: Overall) -> None:
    overall, _code, _rules = _gate(_run(tmp_path, status=status))
    assert overall is expected


def test_failure_and_insufficient_together_is_infrastructure(tmp_path: Path) -> None:
    run = _run(tmp_path, models=[("gpt", "closed"), ("llama", "open"), ("x", "open", "skipped", "no key")])
    outcome = evaluate_gate(
        aggregate(run), GateConfig.model_validate({"min_score": {"open": 0.99, "closed": 0.1}})
    )
    assert outcome.overall is Overall.FAIL  # x is skipped, not required: llama fails the rule
    outcome = evaluate_gate(
        aggregate(_run(tmp_path / "b", models=[("gpt", "closed")])),
        GateConfig.model_validate({"min_score": {"closed": 0.99}, "max_gap": 0.1}),
    )
    assert outcome.overall is Overall.INFRASTRUCTURE


def test_format_gate_one_line_per_rule_then_verdict(tmp_path: Path) -> None:
    outcome = evaluate_gate(
        aggregate(_run(tmp_path)),
        GateConfig.model_validate({"min_score": {"open": 0.6}, "max_gap": 0.2, "max_error_rate": 0.5}),
    )
    lines = format_gate(outcome).splitlines()
    assert len(lines) == len(outcome.rules) + len(outcome.notes) + 1
    assert lines[-1].startswith("verdict: STAY") and lines[-1].endswith("exit 1")
    assert any(line.startswith("FAIL") and "min_score[open] qwen" in line for line in lines)
    assert any(line.startswith("PASS") and "max_gap" in line for line in lines)


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        (None, GateConfig()),
        (
            {"scorer": "exact_match", "max_gap": None, "min_score": {"open": 0.5}, "max_error_rate": None},
            GateConfig.model_validate({"scorer": "exact_match", "min_score": {"open": 0.5}}),
        ),
    ],
)
def test_gate_config_from_manifest(gate: dict[str, Any] | None, expected: GateConfig) -> None:
    m = manifest()
    m["gate"] = gate
    assert gate_config_from_manifest(m) == expected


def test_gate_config_from_manifest_invalid() -> None:
    m = manifest()
    m["gate"] = {"max_gap": 7}
    with pytest.raises(RunDirError, match=r"gate\.max_gap"):
        gate_config_from_manifest(m)


def test_gate_scorer_without_results_is_insufficient(tmp_path: Path) -> None:
    overall, code, rules = _gate(_run(tmp_path), scorer="nope", max_gap=0.1)
    assert (overall, code) == (Overall.INFRASTRUCTURE, ExitCode.INFRASTRUCTURE)
    assert rules["gate_scorer"] is RuleStatus.INSUFFICIENT
