"""Replayed models in a real run: the baseline's recorded answers, the candidate over real HTTP.

A closed model with ``replay:`` is never sent (the test server never sees it), needs no key, and
its results are its recorded outputs; a JSONL missing an id makes a counted ``replay_missing``
error; a replay recorded on other data is refused (exit 2) before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.testing.server import TestServer

N = 30
ROWS = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(N)]
GATE = {"max_gap": 0.05}


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    """The closed model is always right; the open one is wrong on every third question."""
    i = int(re.search(r"question (\d+)", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    right = "yes" if i % 2 else "no"
    return "maybe" if model.startswith("open") and i % 3 == 0 else right


@pytest.fixture
def server():
    with TestServer(responder=_answer, require_key="test-key") as srv:
        yield srv


def _open(server: TestServer) -> dict[str, Any]:
    return {
        "name": "open-llama",
        "model": "openai/open-llama",
        "group": "open",
        "api_base": server.openai_base,
        "api_key_env": "TEST_KEY",
    }


def _live_closed(server: TestServer) -> dict[str, Any]:
    return {
        "name": "gpt",
        "model": "openai/closed-gpt",
        "group": "closed",
        "api_base": server.openai_base,
        "api_key_env": "TEST_KEY",
    }


def _replayed(source: str, **kw: Any) -> dict[str, Any]:
    # openai/gpt-4o with no key in the environment: without replay it would be skipped
    return {"name": "gpt", "model": "openai/gpt-4o", "group": "closed", "replay": source, **kw}


def _suite(make_suite, models: list[dict[str, Any]], rows: list[dict[str, Any]] = ROWS, **kw: Any) -> Path:
    return make_suite(
        rows, models=models, defaults={"params": {"temperature": 0, "max_tokens": 5}}, gate=GATE, **kw
    )


def _run_dirs(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*/*") if p.is_dir())


def _ledger(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture
def baseline(make_suite, server, results_dir, monkeypatch) -> Path:
    """A live run of both models, copied under the suite's folder as the recorded baseline."""
    monkeypatch.setenv("TEST_KEY", "test-key")
    suite = _suite(make_suite, [_live_closed(server), _open(server)])
    assert main(["run", str(suite), "--no-progress"]) == 0
    (run_dir,) = _run_dirs(results_dir)
    dest = suite.parent / "baseline"
    shutil.copytree(run_dir, dest)
    shutil.rmtree(run_dir)
    server.reset_stats()
    return dest


def test_replayed_baseline_is_never_sent_and_keeps_the_recorded_answers(
    make_suite, server, results_dir, baseline, monkeypatch, capsys
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    suite = _suite(make_suite, [_replayed("baseline"), _open(server)])
    assert main(["run", str(suite), "--no-progress", "--no-cache"]) == 0
    assert server.stats.by_model == {"open-llama": N}, "the replayed model reached the server"
    (run_dir,) = _run_dirs(results_dir)
    recorded = {(r["sample_id"], r["epoch"]): r for r in _ledger(baseline) if r["model"] == "gpt"}
    rows = _ledger(run_dir)
    assert Counter(r["model"] for r in rows) == {"gpt": N, "open-llama": N}
    for r in rows:
        if r["model"] != "gpt":
            continue
        was = recorded[(r["sample_id"], r["epoch"])]["completion"]
        got = r["completion"]
        assert got["text"] == was["text"] and got["cached"] is True
        for k in ("input_tokens", "output_tokens", "cost_usd", "latency_s"):
            assert got[k] == was[k], k
        assert r["scores"]["exact_match"]["value"] == 1.0  # scored again by this run's scorer
    manifest = json.loads((run_dir / "run.json").read_text())
    gpt = next(m for m in manifest["models"] if m["name"] == "gpt")
    assert gpt["status"] == "ok"
    assert gpt["replay"]["path"] == str(baseline.resolve())
    assert gpt["replay"]["kind"] == "run" and gpt["replay"]["missing"] == 0
    assert gpt["replay"]["sha256"] == hashlib.sha256((baseline / "samples.jsonl").read_bytes()).hexdigest()
    assert gpt["replay"]["run_id"] == json.loads((baseline / "run.json").read_text())["run_id"]
    assert gpt["counts"] == {"done": N, "errors": 0, "cached": 0, "replayed": N}
    # the gate reads the replayed run like a live one: gap 10/30, far beyond max_gap 0.05 -> stay (exit 1)
    capsys.readouterr()
    assert main(["gate", str(run_dir)]) == 1
    out = capsys.readouterr().out
    assert "gap gpt - open-llama = 0.333" in out and "verdict: STAY" in out
    assert main(["gate", str(baseline)]) == 1  # the same verdict as the live baseline


def test_a_run_of_replayed_models_only_starts_nothing(make_suite, server, results_dir, baseline, capsys):
    """Both sides replayed, the open one as an embedded local/ model: no request, no worker pool, no
    llama.cpp server, and the gate decides as it did on the live baseline."""
    local_open = {
        "name": "open-llama",
        "model": "local/gemma3-270m",
        "group": "open",
        "replay": "baseline",
        "concurrency": 64,
    }
    suite = _suite(make_suite, [_replayed("baseline"), local_open])
    capsys.readouterr()
    assert main(["doctor", str(suite)]) == 0  # no key, no endpoint: a replay has nothing to reach
    assert capsys.readouterr().out.count("replayed from baseline") == 2
    assert main(["run", str(suite), "--no-progress", "--gate"]) == 1  # stay, as on the baseline
    out = capsys.readouterr().out
    assert "starting the embedded model" not in out and "verdict: STAY" in out
    assert server.stats.total == 0
    (run_dir,) = _run_dirs(results_dir)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["execution"]["workers"] == 0 and "start" not in manifest["execution"]["seconds"]
    assert [m["counts"]["replayed"] for m in manifest["models"]] == [N, N]
    recorded = sorted((r["sample_id"], r["model"], r["completion"]["text"]) for r in _ledger(baseline))
    assert sorted((r["sample_id"], r["model"], r["completion"]["text"]) for r in _ledger(run_dir)) == recorded


def test_jsonl_replay_missing_id_is_a_counted_error(make_suite, server, results_dir, monkeypatch, capsys):
    monkeypatch.setenv("TEST_KEY", "test-key")
    folder = make_suite(ROWS).parent
    lines = [{"id": r["id"], "output": r["expected"]} for r in ROWS if r["id"] != "s7"]
    (folder / "prod.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    suite = _suite(make_suite, [_replayed("prod.jsonl"), _open(server)])
    assert main(["run", str(suite), "--no-progress"]) == 0
    assert server.stats.by_model == {"open-llama": N}
    (run_dir,) = _run_dirs(results_dir)
    gpt_rows = {r["sample_id"]: r for r in _ledger(run_dir) if r["model"] == "gpt"}
    assert len(gpt_rows) == N  # the missing id is a row, not a skip
    err = gpt_rows["s7"]["completion"]["error"]
    assert err["kind"] == "replay_missing" and "'s7'" in err["message"]
    assert gpt_rows["s8"]["completion"]["text"] == "no" and gpt_rows["s8"]["completion"]["cost_usd"] is None
    gpt = next(m for m in json.loads((run_dir / "run.json").read_text())["models"] if m["name"] == "gpt")
    assert gpt["counts"]["errors"] == 1 and gpt["replay"]["missing"] == 1 and gpt["replay"]["kind"] == "jsonl"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "replay_missing" in json.dumps(summary)


def test_replay_recorded_on_other_data_is_refused_before_any_request(
    make_suite, server, results_dir, baseline, capsys
):
    changed = [dict(r) for r in ROWS]
    changed[3]["input"] = "question 3 (edited)"
    suite = _suite(make_suite, [_replayed("baseline"), _open(server)], rows=changed)
    capsys.readouterr()
    assert main(["run", str(suite), "--no-progress"]) == 2
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if not x.startswith("warning:")]  # the small-data warning
    assert len(lines) == 1 and "Traceback" not in err
    assert "models.gpt.replay" in err and "was recorded on different data" in err
    assert server.stats.total == 0 and _run_dirs(results_dir) == []


@pytest.mark.parametrize(
    ("source", "extra", "message"),
    [
        ("nope", {}, "replay source not found"),
        ("../outside", {}, "points outside the suite's folder"),
        ("baseline", {"replay_model": "claude"}, "has no model 'claude'"),
    ],
)
def test_bad_replay_source_is_a_config_error(
    make_suite, server, results_dir, baseline, capsys, source, extra, message
):
    suite = _suite(make_suite, [_replayed(source, **extra), _open(server)])
    capsys.readouterr()
    assert main(["run", str(suite), "--no-progress"]) == 2
    assert message in capsys.readouterr().err
    assert server.stats.total == 0


def test_jsonl_with_epoch_zero_only_is_refused_for_several_epochs(make_suite, server, capsys):
    folder = make_suite(ROWS).parent
    (folder / "prod.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "output": "no"}) + "\n" for r in ROWS)
    )
    suite = _suite(make_suite, [_replayed("prod.jsonl"), _open(server)], epochs=2)
    capsys.readouterr()
    assert main(["run", str(suite), "--no-progress"]) == 2
    assert "epoch 0 only, but the suite asks 2 epochs" in capsys.readouterr().err


def test_resume_replays_only_the_missing_cells_and_refuses_a_changed_source(
    make_suite, server, results_dir, baseline, monkeypatch, capsys
):
    monkeypatch.setenv("TEST_KEY", "test-key")
    suite = _suite(make_suite, [_replayed("baseline"), _open(server)])
    assert main(["run", str(suite), "--no-progress", "--no-cache"]) == 0
    (run_dir,) = _run_dirs(results_dir)
    full = _ledger(run_dir)
    # as if killed: the first 10 lines of each model kept, status still 'running'
    kept = [r for r in full if r["model"] == "gpt"][:10] + [r for r in full if r["model"] == "open-llama"][
        :10
    ]
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    m = json.loads((run_dir / "run.json").read_text())
    m["status"] = "running"
    (run_dir / "run.json").write_text(json.dumps(m))
    assert main(["gate", str(run_dir)]) == 3  # an unfinished run cannot pass the gate
    server.reset_stats()
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--no-cache"]) == 0
    assert server.stats.by_model == {"open-llama": N - 10}
    rows = _ledger(run_dir)
    cells = Counter((r["sample_id"], r["model"], r["epoch"]) for r in rows)
    assert len(cells) == 2 * N and max(cells.values()) == 1
    assert sorted((r["sample_id"], r["completion"]["text"]) for r in rows if r["model"] == "gpt") == sorted(
        (r["sample_id"], r["completion"]["text"]) for r in full if r["model"] == "gpt"
    )
    # the recorded source changed since: a resume would mix two baselines
    m = json.loads((run_dir / "run.json").read_text())
    m["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(m))
    with (baseline / "samples.jsonl").open("a") as f:
        f.write("\n")
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir), "--no-progress"]) == 2
    assert "changed since this run started" in capsys.readouterr().err
