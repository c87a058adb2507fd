"""``evalkit merge``: shards of a real-HTTP run combined give the unsharded run's summary; and the refusals.

One module-scoped set of runs against :class:`evalkit.testing.server.TestServer` (deterministic answers,
a few deterministic failures, a tag slice): the whole suite unsharded, and the same suite as four
shards (``--no-cache``: every shard really sends). Each test copies what it needs and merges.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from evalkit.cli import main
from evalkit.rundir.shard import shard_index
from evalkit.testing.server import Rule, TestServer

N = 120
SHARDS = 4
MODELS = ("closed", "open")
FAIL_EVERY = 23
"""The open model answers HTTP 400 (not retried: a recorded failure) on every 23rd question."""


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    """The closed model is right except on every 10th question; the open model wrong on every 4th."""
    i = int(re.search(r"question (\d+)\.", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    right = "yes" if i % 2 else "no"
    wrong = "no" if i % 2 else "yes"
    if model == "closed":
        return wrong if i % 10 == 9 else right
    return wrong if i % 4 == 3 else right


def _write_suite(folder: Path, n: int, api_base: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": f"s{i}",
            "input": f"question {i}." + (" [fail]" if i % FAIL_EVERY == 0 else ""),
            "expected": "yes" if i % 2 else "no",
            "kind": "odd" if i % 2 else "even",
        }
        for i in range(n)
    ]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    price = {"input_per_mtok": 0.3, "output_per_mtok": 1.1}
    suite = {
        "name": "sharded",
        "version": 1,
        "dataset": {"path": "data.jsonl", "tags": ["kind"]},
        "prompt": {"system": "Answer yes or no.", "user": "{{ input }}"},
        "models": [
            {"name": m, "model": f"openai/{m}", "group": m, "api_base": api_base, "price": price}
            for m in MODELS
        ],
        "defaults": {"params": {"temperature": 0, "max_tokens": 5}, "concurrency": 32, "max_attempts": 1},
        "scorers": ["exact_match"],
        "gate": {"max_gap": 0.1},
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


class Runs:
    def __init__(self, root: Path, whole: Path, shards: list[Path], server: TestServer) -> None:
        self.root, self.whole, self.shards, self.server = root, whole, shards, server
        self.sent_by_shards = 0

    def copy(self, dest: Path, *which: int) -> list[Path]:
        """Copies of the shard folders ``which`` (1-based) under ``dest``."""
        out = []
        for i in which:
            target = dest / f"shard{i}"
            shutil.copytree(self.shards[i - 1], target)
            out.append(target)
        return out


def make_runs(
    root: Path, n: int, monkeypatch: pytest.MonkeyPatch, *, replay_whole: bool = False
) -> Iterator[Runs]:
    """The unsharded run and the four shards, each sending every request (``--no-cache``).

    ``replay_whole``: the shards send (sharing one fresh cache: their cells are disjoint, so nothing
    of theirs is in it), then the unsharded run replays their answers from that cache and sends
    only the failed requests again (failures are not cached) — half the requests, for the 20k run.
    """
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with TestServer(responder=_answer) as server:
        server.add_rule(Rule(model="open", contains="[fail]", status=400, reply="bad request"))
        suite = _write_suite(root / "suite", n, server.openai_base)
        common = ["--no-progress"] if replay_whole else ["--no-cache", "--no-progress"]

        def whole_run() -> None:
            assert main(["run", str(suite), "--output", str(root / "whole"), *common]) == 0

        if not replay_whole:
            whole_run()
            assert server.stats.total == n * len(MODELS)
        before = server.stats.total
        shards = []
        for i in range(1, SHARDS + 1):
            out = root / f"shards{i}"
            assert main(["run", str(suite), "--shard", f"{i}/{SHARDS}", "--output", str(out), *common]) == 0
            (run_dir,) = out.glob("sharded/*")
            shards.append(run_dir)
        sent_by_shards = server.stats.total - before
        if replay_whole:
            whole_run()
            assert server.stats.total - before - sent_by_shards == len(range(0, n, FAIL_EVERY))
        (whole,) = (root / "whole").glob("sharded/*")
        runs = Runs(root, whole, shards, server)
        runs.sent_by_shards = sent_by_shards
        yield runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    with pytest.MonkeyPatch.context() as mp:
        yield from make_runs(tmp_path_factory.mktemp("merge"), N, mp)


# -- comparing two run folders ----------------------------------------------------------------------

VOLATILE = {"id", "run_id", "started_at", "finished_at"}
"""Besides every key naming a measured time (``latency``, ``ttft``)."""


def _volatile(key: str, also: frozenset[str] = frozenset()) -> bool:
    return key in VOLATILE or key in also or "latency" in key or "ttft" in key


def _strip(obj: Any, also: frozenset[str] = frozenset()) -> Any:
    """summary.json without run id, times and measured latencies."""
    if isinstance(obj, dict):
        return {k: _strip(v, also) for k, v in obj.items() if not _volatile(k, also)}
    if isinstance(obj, list):
        return [_strip(v, also) for v in obj]
    return obj


def _csv(path: Path, also: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [
            {k: _number(v) for k, v in row.items() if not _volatile(k, also)} for row in csv.DictReader(f)
        ]


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _close(a: Any, b: Any) -> Any:
    """``a`` with every float replaced by ``pytest.approx`` of it: sums of floats (costs) added in
    another order may differ in the last bit (the ledgers' line orders differ); nothing else may."""
    if isinstance(a, dict):
        return {k: _close(v, b.get(k) if isinstance(b, dict) else None) for k, v in a.items()}
    if isinstance(a, list):
        return [_close(v, b[i] if isinstance(b, list) and i < len(b) else None) for i, v in enumerate(a)]
    if isinstance(a, float) and not isinstance(b, bool):
        return pytest.approx(a, rel=1e-12, abs=1e-15)
    return a


def assert_same_summary(a: Path, b: Path, also: frozenset[str] = frozenset()) -> None:
    """summary.json (without run id, times, latencies), summary.csv and gaps.csv (without latencies)
    agree; ``also``: further keys to leave out."""
    ja = _strip(json.loads((a / "summary.json").read_text()), also)
    jb = _strip(json.loads((b / "summary.json").read_text()), also)
    assert list(ja) == list(jb)
    for key in ja:  # field by field, for a readable failure
        assert jb[key] == _close(ja[key], jb[key]), key
    for name in ("summary.csv", "gaps.csv"):
        ca, cb = _csv(a / name, also), _csv(b / name, also)
        assert len(ca) == len(cb) > 0, name
        for ra, rb in zip(ca, cb, strict=True):
            assert list(ra) == list(rb), name
            assert rb == _close(ra, rb), (name, ra)


def _cells(run_dir: Path) -> Counter[tuple[str, str, int]]:
    return Counter(
        (r["sample_id"], r["model"], r["epoch"])
        for r in (json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines() if x.strip())
    )


def _merge(*args: str | Path) -> int:
    return main(["merge", *[str(a) for a in args]])


# -- the happy path ---------------------------------------------------------------------------------


def test_shards_really_sent_and_are_disjoint(runs: Runs) -> None:
    assert runs.sent_by_shards == N * len(MODELS)
    seen: Counter[tuple[str, str, int]] = Counter()
    for i, d in enumerate(runs.shards, start=1):
        cells = _cells(d)
        assert all(shard_index(sid, SHARDS) == i for sid, _m, _e in cells)
        seen.update(cells)
    assert seen == _cells(runs.whole)
    assert set(seen.values()) == {1}


def test_merged_shards_give_the_unsharded_summary(runs: Runs, tmp_path: Path, capsys) -> None:
    out = tmp_path / "merged"
    assert _merge(*runs.shards, "--output", out) == 0
    err = capsys.readouterr().err
    assert "warning" not in err and f"merged {SHARDS} run folder(s), {N * len(MODELS)} cells" in err
    assert _cells(out) == _cells(runs.whole)
    assert_same_summary(out, runs.whole)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["shard"] is None
    assert [m["shard"]["index"] for m in manifest["merged_from"]] == [1, 2, 3, 4]
    assert [m["run_id"] for m in manifest["merged_from"]] == [d.name for d in runs.shards]
    assert manifest["counts"]["planned"] == manifest["counts"]["done"] == N * len(MODELS)
    fails = len(range(0, N, FAIL_EVERY))
    assert manifest["counts"]["errors"] == fails
    assert {m["name"]: m["counts"]["errors"] for m in manifest["models"]} == {"closed": 0, "open": fails}
    # the gate reads the merged run like any other: same decision as the unsharded run
    assert main(["gate", str(out)]) == main(["gate", str(runs.whole)])
    for name in ("report.html", "summary.md", "junit.xml", "gaps.json", "samples.csv"):
        assert (out / name).is_file()
    schema = json.loads((Path(__file__).parents[1] / "docs" / "summary.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads((out / "summary.json").read_text()))


def test_order_of_the_folders_does_not_matter(runs: Runs, tmp_path: Path) -> None:
    assert _merge(*reversed(runs.shards), "--output", tmp_path / "rev") == 0
    assert _merge(*runs.shards, "--output", tmp_path / "fwd") == 0
    assert_same_summary(tmp_path / "rev", tmp_path / "fwd")
    assert (tmp_path / "rev" / "samples.jsonl").read_bytes() == (
        tmp_path / "fwd" / "samples.jsonl"
    ).read_bytes()


def test_default_output_is_a_new_run_under_the_results_folder(runs: Runs, results_dir: Path) -> None:
    assert _merge(*runs.shards) == 0
    (merged,) = results_dir.glob("sharded/*")
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", merged.name)
    assert json.loads((merged / "run.json").read_text())["run_id"] == merged.name
    assert (results_dir / "index.html").is_file()


# -- partial ----------------------------------------------------------------------------------------


def test_a_missing_shard_makes_a_partial_run_that_says_what_is_missing(
    runs: Runs, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "merged"
    assert _merge(runs.shards[0], runs.shards[1], runs.shards[3], "--output", out) == 0
    missing = sum(1 for i in range(N) if shard_index(f"s{i}", SHARDS) == 3)
    err = capsys.readouterr().err
    assert (
        f"warning: the merged run is partial: missing closed: {missing} cell(s), open: {missing} cell(s) "
        f"(shard(s) 3/{SHARDS} not given)"
    ) in err
    assert "PARTIAL" in err
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "partial"
    assert manifest["counts"]["done"] == (N - missing) * len(MODELS)
    assert json.loads((out / "summary.json").read_text())["run"]["status"] == "partial"
    assert main(["gate", str(out)]) == 3  # the gate does not decide on a partial run


def test_a_partial_merge_can_be_completed_with_resume(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "merged"
    assert _merge(runs.shards[0], runs.shards[1], runs.shards[3], "--output", out) == 0
    missing = sum(1 for i in range(N) if shard_index(f"s{i}", SHARDS) == 3)
    before = runs.server.stats.total
    assert main(["run", "--resume", str(out), "--no-cache", "--no-progress"]) == 0
    assert runs.server.stats.total - before == missing * len(MODELS)  # only shard 3's cells were sent
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert _cells(out) == _cells(runs.whole)
    assert_same_summary(out, runs.whole)


def test_a_corrupt_ledger_line_is_reported_and_its_cell_missing(runs: Runs, tmp_path: Path, capsys) -> None:
    parts = runs.copy(tmp_path, 1, 2, 3, 4)
    ledger = parts[1] / "samples.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    lines[2] = '{"sample_id": "broken\n'
    ledger.write_text("".join(lines))
    assert _merge(*parts, "--output", tmp_path / "m") == 0
    err = capsys.readouterr().err
    assert f"{ledger}:3: skipped a corrupt line" in err
    assert "the merged run is partial: missing" in err
    assert json.loads((tmp_path / "m" / "run.json").read_text())["counts"]["done"] == N * len(MODELS) - 1


# -- duplicates -------------------------------------------------------------------------------------


def test_the_same_shard_twice_with_the_same_answers_is_merged_once(
    runs: Runs, tmp_path: Path, capsys
) -> None:
    again = runs.copy(tmp_path, 2)[0]
    assert _merge(*runs.shards, again, "--output", tmp_path / "m") == 0
    assert "warning" not in capsys.readouterr().err
    assert _cells(tmp_path / "m") == _cells(runs.whole)
    assert_same_summary(tmp_path / "m", runs.whole)


def _rewrite(ledger: Path, change: Any) -> dict[str, Any]:
    """Apply ``change`` to the first line's result; return the changed row."""
    lines = ledger.read_text().splitlines()
    row = json.loads(lines[0])
    change(row)
    lines[0] = json.dumps(row)
    ledger.write_text("\n".join(lines) + "\n")
    return row


def test_a_failed_copy_of_a_cell_loses_to_its_answer(runs: Runs, tmp_path: Path, capsys) -> None:
    (retry,) = runs.copy(tmp_path, 2)

    def fail(row: dict[str, Any]) -> None:
        row["completion"].update(text=None, error={"kind": "server", "message": "boom", "status": 500})
        row["scores"] = {}

    row = _rewrite(retry / "samples.jsonl", fail)
    # the failed copy comes first: the answer from the original shard 2 still wins
    assert _merge(retry, *runs.shards, "--output", tmp_path / "m") == 0
    err = capsys.readouterr().err
    assert "warning: 1 duplicate cell(s) differ: kept the answer over a failed request" in err
    assert f"sample {row['sample_id']!r}" in err
    assert_same_summary(tmp_path / "m", runs.whole)


def test_two_different_answers_for_one_cell_are_refused(runs: Runs, tmp_path: Path, capsys) -> None:
    (retry,) = runs.copy(tmp_path, 2)
    row = _rewrite(retry / "samples.jsonl", lambda r: r["completion"].update(text="something else"))
    assert _merge(*runs.shards, retry, "--output", tmp_path / "m") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert (
        f"(sample {row['sample_id']!r}, model {row['model']!r}, epoch 0) has two different answers" in err[0]
    )
    assert str(runs.shards[1]) in err[0] and str(retry) in err[0] and "leave one of them out" in err[0]
    assert not (tmp_path / "m").exists()


# -- refusals ---------------------------------------------------------------------------------------


def _edit_manifest(run_dir: Path, change: Any) -> None:
    manifest = json.loads((run_dir / "run.json").read_text())
    change(manifest)
    (run_dir / "run.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (
            lambda m: m["suite"].update(hash="0" * 64),
            "suite hash (the suite file or its prompt/label files changed)",
        ),
        (lambda m: m["dataset"].update(sha256="f" * 64), "dataset sha256 (the data changed)"),
        (lambda m: m["shard"].update(count=5, index=2), "shard count differs (4 vs 5)"),
        (lambda m: m["options"].update(limit=50), "--limit differs (null vs 50)"),
        (lambda m: m["models"][1]["params"].update(temperature=0.7), "model 'open' params differs"),
        (lambda m: m.update(epochs=2), "epochs differs (1 vs 2)"),
    ],
    ids=["suite", "data", "shard-count", "limit", "params", "epochs"],
)
def test_incompatible_runs_are_refused_naming_the_difference(
    runs: Runs, tmp_path: Path, capsys, change: Any, what: str
) -> None:
    a, b = runs.copy(tmp_path, 1, 2)
    _edit_manifest(b, change)
    assert _merge(a, b, "--output", tmp_path / "m") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"evalkit: error: merge: {a} and {b} are not shards of one run: ")
    assert what in err[0]
    assert not (tmp_path / "m").exists()


def test_an_unsharded_run_and_shards_are_refused(runs: Runs, tmp_path: Path, capsys) -> None:
    assert _merge(runs.whole, runs.shards[0], "--output", tmp_path / "m") == 2
    assert "shard count differs (1 vs 4)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "{out_file}"], "already exists and is not an empty folder"),
        (["{shard1}"], "is given twice"),
        (["--output", "{shard1}"], "already exists and is not an empty folder"),
    ],
)
def test_bad_merge_arguments(runs: Runs, tmp_path: Path, capsys, args: list[str], message: str) -> None:
    out_file = tmp_path / "taken"
    out_file.write_text("x")
    fmt = {"out_file": str(out_file), "shard1": str(runs.shards[0])}
    assert _merge(*runs.shards, *[a.format(**fmt) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_folder_that_is_not_a_run_is_refused(runs: Runs, tmp_path: Path, capsys) -> None:
    assert _merge(runs.shards[0], tmp_path / "nope") == 2
    assert "not a run folder" in capsys.readouterr().err


# -- the 20k-sample proof ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_twenty_thousand_samples_in_four_shards_merge_to_the_unsharded_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shards send all 40,000 requests; the unsharded run replays them from the cache (its cells
    then say ``cached``, the only difference allowed besides run id, times and latencies)."""
    n = int(os.environ.get("EVALKIT_TEST_SHARD_N", "20000"))
    t0 = time.monotonic()
    gen = make_runs(tmp_path, n, monkeypatch, replay_whole=True)
    big = next(gen)
    t_runs = time.monotonic() - t0
    assert big.sent_by_shards == n * len(MODELS)
    assert _merge(*big.shards, "--output", tmp_path / "merged") == 0
    assert _cells(tmp_path / "merged") == _cells(big.whole)
    assert sum(_cells(tmp_path / "merged").values()) == n * len(MODELS)
    assert_same_summary(tmp_path / "merged", big.whole, also=frozenset({"cached"}))
    gen.close()
    print(f"{n} samples x {len(MODELS)} models: runs {t_runs:.1f} s, total {time.monotonic() - t0:.1f} s")
