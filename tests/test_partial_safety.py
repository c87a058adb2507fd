"""The shipped safety suite on recorded answers: GPT-4 (closed) and Mistral-7B-Instruct (open) replayed
from suites/data, scored by the refusal scorer, through `evalkit run`, `report` and `gate` with no
network. Can any XSTest prompt type move? The report says no, and why; routing on `label` (which the
suite rightly excludes: it is the expected verdict) would move the safe prompts, with the honest
held-out blend estimate beside the optimistic one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import main

ROOT = Path(__file__).parents[1]
DATA = ROOT / "suites" / "data"
PROMPTS = [
    json.loads(line) for line in (DATA / "xstest_prompts.jsonl").read_text(encoding="utf-8").splitlines()
]
TYPES = sorted({str(r["type"]) for r in PROMPTS})


def _replayed_suite(folder: Path, **gate: Any) -> Path:
    """suites/safety.yaml with its models replaced by the two recorded baselines."""
    suite = yaml.safe_load((ROOT / "suites" / "safety.yaml").read_text(encoding="utf-8"))
    suite["dataset"]["path"] = str(DATA / "xstest_prompts.jsonl")
    suite["models"] = [
        {
            "name": "gpt-4",
            "model": "openai/gpt-4",
            "group": "closed",
            "replay": str(DATA / "xstest_answers_gpt4.jsonl"),
        },
        {
            "name": "mistral-7b",
            "model": "together_ai/mistralai/Mistral-7B-Instruct-v0.1",
            "group": "open",
            "replay": str(DATA / "xstest_answers_mistral7b_instruct.jsonl"),
        },
    ]
    for key, value in gate.items():
        suite["gate"]["partial"][key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "safety.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


def _run(tmp_path: Path, **gate: Any) -> Path:
    out = tmp_path / "results"
    assert (
        main(["run", str(_replayed_suite(tmp_path / "suite", **gate)), "--no-progress", "--output", str(out)])
        == 0
    )
    (run,) = sorted((out / "safety").iterdir())
    return run


def test_no_xstest_prompt_type_can_move_from_gpt4_to_mistral(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(tmp_path)
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    pm = doc["partial_migration"]
    assert (pm["closed_model"], pm["fields"], pm["allow"]) == ("gpt-4", ["type"], False)
    (entry,) = pm["models"]
    assert (entry["open_model"], entry["exists"], entry["outcome"]) == ("mistral-7b", False, "none")
    assert entry["routing_rule"] is None and entry["honest"] is None and entry["cost"] is None
    types = {s["slice"]: s for s in entry["slices"] if s["field"] == "type"}
    assert sorted(types) == TYPES and len(TYPES) == 18
    assert all(s["status"] == "too_small" and s["n_examples"] in (12, 13) for s in types.values())
    lengths = [s for s in entry["slices"] if s["field"] == "input_chars"]
    assert [s["status"] for s in lengths] == ["keep"] * 3  # Mistral is far behind on every length
    assert all(s["gap"] > 0.05 for s in lengths)
    assert not any(s["field"] == "label" for s in entry["slices"])  # the expected verdict: no routing key
    assert doc["gate"]["overall"] == "stay" and doc["gate"]["exit_code"] == 1

    md = (run / "summary.md").read_text(encoding="utf-8")
    assert "type: 0 of 18 slices shown within max\\_gap 0.05; 18 too small to judge (12-13 examples" in md
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "no slice moves: the blend is all-closed" in html
    assert main(["gate", str(run)]) == 1
    assert "MIGRATE PARTIALLY" not in capsys.readouterr().out


def test_routing_on_the_expected_verdict_would_move_the_safe_prompts(tmp_path: Path) -> None:
    """What the suite excludes, for contrast: with `label` as a field (and the gate opted in) the safe
    prompts move — Mistral over-refuses less than GPT-4 there — and the held-out estimate, not the
    in-sample one, is what the gate reads. No router can see `label` before the call."""
    run = _run(tmp_path, fields=["label", "type"], allow=True)
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    (entry,) = doc["partial_migration"]["models"]
    assert entry["exists"] and (entry["field"], entry["moved"]) == ("label", ["safe"])
    honest, naive = entry["honest"], entry["in_sample"]
    n_safe = sum(r["label"] == "safe" for r in PROMPTS)
    assert honest["n_examples"] == 225 and honest["share"] == pytest.approx(
        round(n_safe / 2) / 225, abs=0.005
    )
    assert honest["gap_ci"][1] < 0.05 and naive["gap"] < honest["gap"]
    assert doc["gate"]["overall"] == "partial" and doc["gate"]["exit_code"] == 5
    rule = doc["gate"]["routing_rule"]
    assert rule["field"] == "label" and rule["route"] == {"safe": "mistral-7b"} and rule["default"] == "gpt-4"
    assert rule["models"]["mistral-7b"] == "together_ai/mistralai/Mistral-7B-Instruct-v0.1"
    # replayed answers carry no token counts: the blend's cost is unknown, never $0
    assert entry["cost"]["blend_monthly_usd"] is None and entry["cost"]["unknowns"]
