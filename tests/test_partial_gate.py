"""The gate's fourth outcome, migrate partially (exit 5): only with gate.partial.allow, only when no open
model migrates fully and no closed-model rule fails, only for a candidate whose other rules pass;
among several, the largest saving, else the largest share. Plus gate.partial at load and the
compare column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _partial_runs import noise_values, planted_values, write_partial_run

from evalkit.analysis.compare import compare_runs
from evalkit.analysis.outcome import Overall, gate_exit_code
from evalkit.config.load import load_suite
from evalkit.errors import ConfigError, ExitCode
from evalkit.report import load_report_data

PER = 400
CHEAP = {"input_per_mtok": 0.01, "output_per_mtok": 0.01}
DEAR = {"input_per_mtok": 4.0, "output_per_mtok": 16.0}
GPT = {"input_per_mtok": 2.0, "output_per_mtok": 8.0}


def test_the_partial_exit_code_is_its_own() -> None:
    codes = [int(c) for c in ExitCode]
    assert int(ExitCode.PARTIAL) == 5 and codes.count(5) == 1


def _two_candidates(tmp_path: Path, gate: dict[str, Any], prices: dict[str, Any] | None = None) -> Path:
    """llama is as good as gpt on s0 and s1 (a third of the traffic), qwen on s0 only (a sixth)."""
    rng = np.random.default_rng(21)
    gpt, llama = planted_values(rng, PER, ("s0", "s1"))
    qwen = list(llama)
    bad = np.random.default_rng(22).random(PER) < 0.2
    for i in range(PER, 2 * PER):  # qwen fails a fifth of gpt's passes on s1
        qwen[i] = 0.0 if gpt[i] == 1.0 and bad[i - PER] else gpt[i]
    groups = {"gpt": "closed", "llama": "open", "qwen": "open"}
    return write_partial_run(
        tmp_path / "two",
        PER,
        {"gpt": gpt, "llama": llama, "qwen": qwen},
        groups,
        gate={"scorer": "exact_match", "max_gap": 0.05, **gate},
        prices=prices,
        volume={"requests_per_month": 1_000_000},
    )


@pytest.mark.parametrize(
    ("gate", "prices", "overall", "chosen"),
    [
        # both savings known: qwen saves money on s0, llama loses money on s0 + s1 (dearer than gpt)
        ({"partial": {"allow": True}}, {"gpt": GPT, "llama": DEAR, "qwen": CHEAP}, Overall.PARTIAL, "qwen"),
        # qwen's saving unknown: the share of traffic decides (llama moves a third, qwen a sixth)
        ({"partial": {"allow": True}}, {"gpt": GPT, "llama": DEAR}, Overall.PARTIAL, "llama"),
        ({"partial": {"allow": True}}, None, Overall.PARTIAL, "llama"),
        # not opted in: the gate is today's
        ({}, {"gpt": GPT, "llama": DEAR, "qwen": CHEAP}, Overall.STAY, None),
        # a closed-model rule fails: the run stays, whatever moves
        ({"partial": {"allow": True}, "min_score": {"closed": 0.95}}, None, Overall.STAY, None),
        # the candidates' other rules must pass: both fall below the open floor over the whole run
        ({"partial": {"allow": True}, "min_score": {"open": 0.85}}, None, Overall.STAY, None),
    ],
)
def test_which_candidate_migrates_partially(
    tmp_path: Path, gate: dict[str, Any], prices: dict[str, Any] | None, overall: Overall, chosen: str | None
) -> None:
    data = load_report_data(_two_candidates(tmp_path, gate, prices), example_limit=0)
    assert data.partial is not None and data.gate is not None
    assert {e.open_model for e in data.partial.found()} == {"llama", "qwen"}
    assert data.gate.overall is overall and data.gate.chosen == chosen
    if overall is Overall.PARTIAL:
        assert gate_exit_code(data.gate) is ExitCode.PARTIAL
        moved = {"llama": {"s0": "llama", "s1": "llama"}, "qwen": {"s0": "qwen"}}[chosen or ""]
        assert data.gate.routing_rule is not None and data.gate.routing_rule["route"] == moved
        assert data.gate.partial is not None and f"to {chosen}" in data.gate.partial
    else:
        assert data.gate.routing_rule is None and data.gate.partial is None


def test_a_full_migration_wins_over_a_partial_one(tmp_path: Path) -> None:
    """The same answers: every slice moves (outcome all), and the gate migrates fully."""
    closed, _ = planted_values(np.random.default_rng(4), PER, ())
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": True}}
    run = write_partial_run(
        tmp_path / "same",
        PER,
        {"gpt": closed, "llama": list(closed)},
        {"gpt": "closed", "llama": "open"},
        gate=gate,
    )
    data = load_report_data(run, example_limit=0)
    assert data.gate is not None and data.gate.overall is Overall.MIGRATE and data.gate.chosen == "llama"
    assert data.partial is not None and data.partial.entries[0].migration is not None
    assert data.partial.entries[0].migration.outcome.value == "all"  # every slice moves: not partial


def test_without_max_gap_there_is_no_partial_migration(tmp_path: Path) -> None:
    closed, open_ = planted_values(np.random.default_rng(1), 100, ("s0", "s1"))
    gate = {"scorer": "exact_match", "min_score": {"open": 0.1}, "partial": {"allow": True}}
    run = write_partial_run(
        tmp_path / "nomargin",
        100,
        {"gpt": closed, "llama": open_},
        {"gpt": "closed", "llama": "open"},
        gate=gate,
    )
    data = load_report_data(run, example_limit=0)
    assert data.partial is not None and data.partial.entries == ()
    assert data.partial.note is not None and "max_gap" in data.partial.note
    assert data.gate is not None and data.gate.overall is Overall.MIGRATE  # the floor passes, as before


# --- gate.partial at load ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partial", "message"),
    [
        (
            {"fields": ["lable"]},
            "gate.partial.fields: 'lable' is not one of dataset.tags (label, type). Did you mean 'label'?",
        ),
        ({"fields": ["focus"]}, "gate.partial.fields: 'focus' is not one of dataset.tags (label, type)."),
        ({"fields": ["type", "type"]}, "'type' is listed twice"),
        ({"length_buckets": 11}, "gate.partial.length_buckets"),
        ({"alow": True}, "gate.partial.alow: unknown key (did you mean 'allow'?)"),
        ({"allow": "sometimes"}, "gate.partial.allow"),
    ],
)
def test_bad_gate_partial_is_a_config_error(make_suite: Any, partial: dict[str, Any], message: str) -> None:
    rows = [
        {"id": f"x{i}", "input": "q", "expected": "a", "label": "safe", "type": "homonyms"} for i in range(3)
    ]
    suite = make_suite(
        rows,
        dataset={"path": "data.jsonl", "tags": ["label", "type"]},
        gate={"max_gap": 0.05, "partial": partial},
    )
    with pytest.raises(ConfigError) as err:
        load_suite(suite)
    assert message in str(err.value)


def test_the_shipped_safety_suite_routes_on_type_only() -> None:
    """XSTest's label is the expected verdict (safe / unsafe), which no router sees before the call."""
    suite = load_suite(Path(__file__).parents[1] / "suites" / "safety.yaml").suite
    assert suite.dataset.tags == ["label", "type"]
    assert suite.gate.partial.fields == ["type"] and suite.gate.partial.allow is False


# --- evalkit compare ------------------------------------------------------------------------------


def test_compare_says_whether_a_partial_migration_exists(tmp_path: Path) -> None:
    closed, open_ = planted_values(np.random.default_rng(1), PER, ("s0", "s1"))
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": True}}
    planted = write_partial_run(
        tmp_path / "a", PER, {"gpt": closed, "llama": open_}, {"gpt": "closed", "llama": "open"}, gate=gate
    )
    c2, o2 = noise_values(np.random.default_rng(11), 200, 0.80, 0.75)
    noise = write_partial_run(
        tmp_path / "b", 200, {"gpt": c2, "llama": o2}, {"gpt": "closed", "llama": "open"}, gate=gate
    )
    manifest = json.loads((noise / "run.json").read_text())
    manifest["suite"].update(name="other", task_hash="o" * 64)
    (noise / "run.json").write_text(json.dumps(manifest))
    table = compare_runs([planted, noise])
    first, second = table.rows
    assert first.partial_migration == "yes: llama takes kind in {s0, s1} (33% of traffic)"
    assert (first.verdict, first.exit_code) == ("partial", 5)
    assert second.partial_migration == "no" and second.exit_code != 5
