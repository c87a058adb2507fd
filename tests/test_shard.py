"""``--shard i/n``: the assignment rule (disjoint, covering, stable, balanced), the flag's validation,
the manifest and progress of a shard run, and resume keeping its shard."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.errors import ConfigError
from evalkit.rundir.shard import Shard, parse_shard, shard_index
from evalkit.testing.server import TestServer

IDS = [f"banking77-test-{i:05d}" for i in range(20_000)]


# -- the rule ---------------------------------------------------------------------------------------


def test_rule_is_sha256_of_the_id_mod_n_one_based() -> None:
    for sid in ("s0", "é-ü", "x" * 300, ""):
        h = int.from_bytes(hashlib.sha256(sid.encode()).digest()[:8], "big")
        for n in (1, 2, 3, 4, 7, 16):
            assert shard_index(sid, n) == 1 + h % n
    # by hand: sha256("s0") starts ec18eac8d758b1eb; its low two bits (0xeb = ...11) give 3 mod 4 -> shard 4
    assert hashlib.sha256(b"s0").digest()[:8].hex() == "ec18eac8d758b1eb"
    assert shard_index("s0", 4) == 4
    assert shard_index("s0", 1) == 1


@pytest.mark.parametrize("n", [1, 2, 3, 4, 8])
def test_shards_are_disjoint_and_cover_every_sample(n: int) -> None:
    shards = [Shard(i, n) for i in range(1, n + 1)]
    owners = [[s.index for s in shards if s.owns(sid)] for sid in IDS[:5000]]
    assert all(len(o) == 1 for o in owners), "every sample belongs to exactly one shard"
    assert sum(s.count_in(IDS[:5000]) for s in shards) == 5000


@pytest.mark.parametrize("n", [2, 4, 10])
def test_shards_are_balanced(n: int) -> None:
    """Each shard's share of 20,000 ids is within 5 binomial standard deviations of 20,000/n."""
    counts = Counter(shard_index(sid, n) for sid in IDS)
    expected = len(IDS) / n
    sd = (len(IDS) * (1 / n) * (1 - 1 / n)) ** 0.5
    assert set(counts) == set(range(1, n + 1))
    for i, c in counts.items():
        assert abs(c - expected) < 5 * sd, (i, c, expected, sd)


def test_assignment_does_not_depend_on_row_order() -> None:
    ids = IDS[:2000]
    forward = {sid: shard_index(sid, 4) for sid in ids}
    backward = {sid: shard_index(sid, 4) for sid in reversed(ids)}
    assert forward == backward


def test_assignment_is_the_same_in_processes_with_other_hash_seeds() -> None:
    code = (
        "import json,sys; from evalkit.rundir.shard import shard_index; "
        "print(json.dumps([shard_index(f'id-{i}', 4) for i in range(500)]))"
    )
    results = []
    for seed in ("0", "1", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout))
    assert results[0] == [shard_index(f"id-{i}", 4) for i in range(500)]
    assert all(r == results[0] for r in results)


# -- the flag ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1/4", Shard(1, 4)), ("4/4", Shard(4, 4)), (" 2 / 3 ", Shard(2, 3)), ("1/1", Shard(1, 1))],
)
def test_parse_shard_accepts(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/4", "between 1 and 4 (use 1/4 … 4/4)"),
        ("5/4", "between 1 and 4"),
        ("1/0", "at least 1"),
        ("2", "expected i/n"),
        ("a/b", "expected i/n"),
        ("-1/4", "expected i/n"),
        ("1/4/2", "expected i/n"),
        ("", "expected i/n"),
    ],
)
def test_parse_shard_refuses(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_shard(text)


def test_bad_shard_flag_is_one_line_and_exit_2(make_suite, capsys) -> None:
    suite = make_suite()
    assert main(["run", str(suite), "--shard", "5/4", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["evalkit: error: --shard 5/4: the shard must be between 1 and 4"]


def test_manifest_shard_is_validated() -> None:
    assert Shard.from_manifest(None) is None
    assert Shard.from_manifest({"index": 2, "count": 4}) == Shard(2, 4)
    for bad in ({"index": 0, "count": 4}, {"index": 1}, {"index": True, "count": 2}, [1, 2]):
        with pytest.raises(ConfigError):
            Shard.from_manifest(bad)


# -- a shard run over real HTTP ---------------------------------------------------------------------

N = 40


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    i = int(messages[-1]["content"].split()[-1])
    return "yes" if i % 2 else "no"


@pytest.fixture
def server():
    with TestServer(responder=_answer) as srv:
        yield srv


@pytest.fixture
def suite_path(make_suite, server):
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(N)]
    return make_suite(
        rows,
        models=[
            {"name": "closed", "model": "openai/closed", "group": "closed", "api_base": server.openai_base},
            {"name": "open", "model": "openai/open", "group": "open", "api_base": server.openai_base},
        ],
        defaults={"params": {"temperature": 0, "max_tokens": 5}, "concurrency": 4},
    )


def _only_run(results: Path) -> Path:
    (run_dir,) = [p for p in results.glob("*/*") if p.is_dir()]
    return run_dir


def test_a_shard_sends_only_its_samples_and_says_so(suite_path, server, results_dir, capsys) -> None:
    assert main(["run", str(suite_path), "--shard", "2/3", "--no-progress"]) == 0
    run_dir = _only_run(results_dir)
    owned = {f"s{i}" for i in range(N) if shard_index(f"s{i}", 3) == 2}
    assert 0 < len(owned) < N
    rows = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert {r["sample_id"] for r in rows} == owned
    assert Counter(r["model"] for r in rows) == {"closed": len(owned), "open": len(owned)}
    assert server.stats.total == 2 * len(owned)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["shard"]["index"] == 2 and manifest["shard"]["count"] == 3
    assert manifest["status"] == "partial"
    assert manifest["counts"]["planned"] == 2 * len(owned) == manifest["counts"]["done"]
    assert manifest["dataset"]["n_used"] == N
    err = capsys.readouterr().err
    assert f"shard 2/3: {len(owned)} of the samples" in err
    assert f"shard 2/3 finished ({len(owned)} of {N} samples; its report is partial)" in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["run"]["status"] == "partial"
    # the gate does not decide on one shard: the run is partial (exit 3)
    assert main(["gate", str(run_dir)]) == 3


def test_shard_one_of_one_is_the_whole_run(suite_path, server, results_dir) -> None:
    assert main(["run", str(suite_path), "--shard", "1/1", "--no-progress"]) == 0
    manifest = json.loads((_only_run(results_dir) / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["counts"]["done"] == 2 * N
    assert server.stats.total == 2 * N


def _interrupt_after_first_results(run_dir: Path, keep: int) -> None:
    """Leave the ledger with only its first ``keep`` lines and the manifest as a killed run's."""
    lines = (run_dir / "samples.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "samples.jsonl").write_text("".join(lines[:keep]))
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["status"] = "interrupted"
    (run_dir / "run.json").write_text(json.dumps(manifest))


def test_resume_keeps_the_shard_and_refuses_another(suite_path, server, results_dir, capsys) -> None:
    assert main(["run", str(suite_path), "--shard", "1/2", "--no-progress"]) == 0
    run_dir = _only_run(results_dir)
    owned = {f"s{i}" for i in range(N) if shard_index(f"s{i}", 2) == 1}
    _interrupt_after_first_results(run_dir, 5)
    sent = server.stats.total
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir), "--shard", "2/2", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this run is shard 1/2; --shard 2/2 cannot resume it" in err[0]
    assert server.stats.total == sent
    # no --shard (or the same one): continues as shard 1/2, sending only that shard's missing cells
    assert main(["run", "--resume", str(run_dir), "--no-cache", "--no-progress"]) == 0
    assert server.stats.total == sent + 2 * len(owned) - 5
    rows = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert {r["sample_id"] for r in rows} == owned and len(rows) == 2 * len(owned)
    assert json.loads((run_dir / "run.json").read_text())["shard"]["index"] == 1
    assert main(["run", "--resume", str(run_dir), "--shard", "1/2", "--no-progress"]) == 0


def test_an_unsharded_run_cannot_be_resumed_as_a_shard(suite_path, results_dir, capsys) -> None:
    assert main(["run", str(suite_path), "--no-progress"]) == 0
    run_dir = _only_run(results_dir)
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir), "--shard", "1/2", "--no-progress"]) == 2
    assert "this run is not sharded" in capsys.readouterr().err
