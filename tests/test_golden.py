"""Behaviour pinned across refactors: one fixed suite, run five ways against the test server, writes
the ledger, summaries and report data recorded in ``tests/data/golden/`` (timestamps, ids,
latencies and temporary paths aside).

The five ways are every path by which a result lands: a fresh live run (with a recorded baseline
replayed beside the live models), a re-run served from the cache, a run killed half-way and
resumed, two shards merged, and the closed models through the providers' batch APIs. The golden
files were written by the code before the package was restructured; a change that alters what a
run writes fails here. To re-record them deliberately: ``EVALKIT_UPDATE_GOLDEN=1 pytest
tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import main
from evalkit.testing.server import Rule, TestServer

GOLDEN = Path(__file__).parent / "data" / "golden"
UPDATE = os.environ.get("EVALKIT_UPDATE_GOLDEN") == "1"
N = 16
LABELS = ["yes", "no", "maybe"]


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    """Closed models right everywhere; the open one wrong on every third question, refusing on every fifth."""
    i = int(messages[-1]["content"].split()[-1])
    right = "yes" if i % 2 else "no"
    if model.startswith("open") and i % 5 == 0:
        return "I can't help with that."
    if model.startswith("open") and i % 3 == 0:
        return "maybe"
    return right


@pytest.fixture
def server():
    with TestServer(responder=_answer, require_key="test-key") as srv:
        srv.batch.controls.complete_after_s = 0.05
        srv.add_rule(Rule(model="open-model", contains="question 7", status=400, reply="bad request"))
        yield srv


def _write_suite(root: Path, server: TestServer, *, batch: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"s{i:02d}",
            "input": f"question {i}",
            "expected": "yes" if i % 2 else "no",
            "kind": "odd" if i % 2 else "even",
            "should_refuse": False,
        }
        for i in range(N)
    ]
    (root / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "labels.json").write_text(json.dumps(LABELS), encoding="utf-8")
    baseline = [
        {"id": r["id"], "epoch": e, "output": "yes" if (i + e) % 4 else "no"}
        for i, r in enumerate(rows)
        for e in range(2)
        if (i, e) != (3, 1)  # one missing answer: a replay_missing error
    ]
    (root / "baseline.jsonl").write_text("".join(json.dumps(b) + "\n" for b in baseline), encoding="utf-8")
    closed = [
        {"name": "gpt", "model": "openai/gpt-4o-mini", "api_base": server.openai_base},
        {"name": "claude", "model": "anthropic/claude-haiku-4-5", "api_base": server.anthropic_base},
    ]
    models = [
        {**m, "group": "closed", "api_key_env": "TEST_KEY", **({"batch": True} if batch else {})}
        for m in closed
    ]
    models.append(
        {
            "name": "open",
            "model": "openai/open-model",
            "group": "open",
            "api_base": server.openai_base,
            "api_key_env": "TEST_KEY",
            "concurrency": 3,
        }
    )
    models.append(
        {"name": "recorded", "model": "openai/gpt-4o", "group": "closed", "replay": "baseline.jsonl"}
    )
    suite = {
        "name": "golden",
        "version": 1,
        "dataset": {"path": "data.jsonl", "tags": ["kind"]},
        "prompt": {"system": "Answer yes or no.", "user": "{{ input }}"},
        "defaults": {"params": {"temperature": 0, "max_tokens": 5}, "concurrency": 4, "max_attempts": 1},
        "models": models,
        "scorers": [{"name": "exact_match", "args": {"labels": "labels.json"}}, "refusal"],
        "epochs": 2,
        "gate": {"max_gap": 0.2},
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


# --- normalisation ------------------------------------------------------------------------------

_RUN_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b")
_VOLATILE = {"at", "latency_s", "ttft_s", "started_at", "finished_at", "resumed_at", "run_id", "generated_at"}


def _scrub(obj: Any, subs: dict[str, str]) -> Any:
    if isinstance(obj, dict):
        return {k: _scrub(v, subs) for k, v in obj.items() if k not in _VOLATILE}
    if isinstance(obj, list):
        return [_scrub(v, subs) for v in obj]
    if isinstance(obj, str):
        for old, new in subs.items():
            obj = obj.replace(old, new)
        return _RUN_ID.sub("<run>", obj)
    if isinstance(obj, float):
        return round(obj, 9)
    return obj


def _ledger(run_dir: Path, subs: dict[str, str]) -> list[Any]:
    rows = []
    for line in (run_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the half-written line a kill leaves (the resumed run writes that cell again)
    for r in rows:
        r["completion"].pop("batch_id", None)  # the provider's id, new each run
    rows.sort(key=lambda r: (r["model"], r["sample_id"], r["epoch"]))
    keys: dict[str, str] = {}  # the port is in the keys: name each distinct key by its first row
    for r in rows:
        r["request_key"] = keys.setdefault(r["request_key"], f"key{len(keys)}")
    return _scrub(rows, subs)


def _csv(path: Path, subs: dict[str, str], drop: tuple[str, ...] = ()) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    keep = [{k: v for k, v in r.items() if not any(d in k for d in drop)} for r in rows]
    keep.sort(key=lambda r: json.dumps(r, sort_keys=True))  # rows follow the ledger, whose order is timing's
    return _scrub(keep, subs)


def snapshot(run_dir: Path, subs: dict[str, str]) -> dict[str, Any]:
    """What a run folder says, minus what changes from run to run."""
    subs = {**subs, run_dir.name: "<run>"}
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    lat = ("latency", "ttft", "throughput", "tokens_per_s")
    return {
        "ledger": _ledger(run_dir, subs),
        "summary_json": _scrub(_drop_keys(summary, lat), subs),
        "summary_csv": _csv(run_dir / "summary.csv", subs, lat),
        "gaps_csv": _csv(run_dir / "gaps.csv", subs),
        "samples_csv": _csv(run_dir / "samples.csv", subs, lat),
        "scorer_metrics": _scrub(json.loads((run_dir / "scorer_metrics.json").read_text()), subs),
    }


def _drop_keys(obj: Any, parts: tuple[str, ...]) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_keys(v, parts) for k, v in obj.items() if not any(p in k for p in parts)}
    if isinstance(obj, list):
        return [_drop_keys(v, parts) for v in obj]
    return obj


def check(name: str, snap: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(snap, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    want = json.loads(path.read_text(encoding="utf-8"))
    for part in want:
        assert snap[part] == want[part], f"{name}: {part} differs from {path}"
    assert set(snap) == set(want)


def _one(out: Path) -> Path:
    (run_dir,) = sorted(p for p in out.glob("golden/*") if p.is_dir())
    return run_dir


@pytest.fixture
def setup(tmp_path: Path, server: TestServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TEST_KEY", "test-key")
    suite = _write_suite(tmp_path / "suite", server)
    subs = {str(tmp_path): "<tmp>", str(server.url): "<server>"}
    return suite, subs, tmp_path


def test_fresh_run_then_cached_rerun(setup, server: TestServer) -> None:
    suite, subs, tmp = setup
    assert main(["run", str(suite), "--no-progress", "--output", str(tmp / "a")]) == 0
    check("fresh", snapshot(_one(tmp / "a"), subs))
    sent = server.stats.total
    assert main(["run", str(suite), "--no-progress", "--output", str(tmp / "b")]) == 0
    assert server.stats.total == sent + 2  # only the failing open cells (errors are not cached)
    check("cached", snapshot(_one(tmp / "b"), subs))


def test_interrupted_run_resumed(setup) -> None:
    suite, subs, tmp = setup
    assert main(["run", str(suite), "--no-progress", "--no-cache", "--output", str(tmp / "r")]) == 0
    run_dir = _one(tmp / "r")
    ledger = run_dir / "samples.jsonl"
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    ledger.write_text("".join(lines[: len(lines) // 2]) + lines[len(lines) // 2][:40], encoding="utf-8")
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(manifest))
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--no-cache"]) == 0
    check("resumed", snapshot(run_dir, subs))


def test_two_shards_merged(setup) -> None:
    suite, subs, tmp = setup
    shards = []
    for i in (1, 2):
        out = tmp / f"shard{i}"
        assert (
            main(
                ["run", str(suite), "--no-progress", "--no-cache", "--shard", f"{i}/2", "--output", str(out)]
            )
            == 0
        )
        shards.append(str(_one(out)))
    merged = tmp / "merged"
    assert main(["merge", *shards, "--output", str(merged)]) == 0
    check("merged", snapshot(merged, subs))


def test_batch_run(tmp_path: Path, server: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", "test-key")
    suite = _write_suite(tmp_path / "suite", server, batch=True)
    subs = {str(tmp_path): "<tmp>", str(server.url): "<server>"}
    out = tmp_path / "batch"
    assert main(["run", str(suite), "--no-progress", "--poll-interval", "0.05", "--output", str(out)]) == 0
    check("batch", snapshot(_one(out), subs))
