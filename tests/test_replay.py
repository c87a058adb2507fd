"""Loading replayed answers: refused with the reason when they are not comparable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.run.recorded import load_replay

IDS = ["a", "b", "c"]


def _load(path: Path, **kw):
    args = {
        "model": "base",
        "sample_ids": IDS,
        "epochs": 1,
        "dataset_sha256": "d" * 64,
        "task_hash": "t" * 64,
        "where": "suite.yaml: models.0",
    }
    args.update(kw)
    return load_replay(path, **args)


def _jsonl(tmp_path: Path, rows: list) -> Path:
    p = tmp_path / "outputs.jsonl"
    p.write_text("".join((json.dumps(r) if not isinstance(r, str) else r) + "\n" for r in rows))
    return p


def test_jsonl_answers_are_loaded(tmp_path: Path):
    rep = _load(_jsonl(tmp_path, [{"id": i, "output": f"out-{i}"} for i in IDS]))
    got = rep.get("b", 0)
    assert got is not None and got.text == "out-b" and got.cached and got.cost_usd is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"id": i, "output": "x"} for i in [*IDS, "zzz"]], "ids that are not in the dataset (first: 'zzz')"),
        ([{"id": "a", "output": "x"}, {"id": "a", "output": "y"}], ":2: replay: a second answer for id 'a'"),
        ([{"id": "a"}], ":1: replay rows need 'id' and a string 'output'"),
        (["{not json"], ":1: replay: invalid JSON"),
        ([], "replay file is empty"),
    ],
)
def test_bad_jsonl_is_refused(tmp_path: Path, rows, message: str):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _load(_jsonl(tmp_path, rows))


def _run_folder(tmp_path: Path, *, sha: str = "d" * 64, task: str = "t" * 64) -> Path:
    from _runfolder import res, write_run

    run_dir = tmp_path / "run"
    results = [res(i, "base", text=f"base-{i}") for i in IDS] + [res("a", "other")]
    results.append(res("zzz-extra", "base"))  # a longer recorded run may hold more samples
    write_run(run_dir, results, models=(("base", "closed"), ("other", "open")))
    m = json.loads((run_dir / "run.json").read_text())
    m["dataset"]["sha256"], m["suite"]["task_hash"] = sha, task
    (run_dir / "run.json").write_text(json.dumps(m))
    return run_dir


def test_jsonl_missing_answers_become_replay_missing_errors(tmp_path: Path):
    rep = _load(_jsonl(tmp_path, [{"id": "a", "output": "x"}, {"id": "b", "output": "y"}]))
    assert rep.missing == 1 and rep.kind == "jsonl"
    completion, key = rep.answer("c", 0)
    assert completion.error is not None and completion.error.kind == "replay_missing"
    assert "'c', epoch 0" in completion.error.message and len(key) == 64
    assert rep.answer("a", 0)[0].text == "x"


def test_jsonl_ids_may_be_any_of_the_dataset_when_the_run_is_limited(tmp_path: Path):
    rep = _load(_jsonl(tmp_path, [{"id": i, "output": i} for i in IDS]), sample_ids=["a"], known_ids=IDS)
    assert rep.missing == 0 and set(rep.answers) == {("a", 0)}


def test_run_folder_answers_are_loaded(tmp_path: Path):
    rep = _load(_run_folder(tmp_path))
    assert rep.get("c", 0).text == "base-c"
    assert rep.get("zzz-extra", 0) is None


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"sha": "e" * 64}, "was recorded on different data"),
        ({"task": "u" * 64}, "with a different prompt, scorers or data mapping"),
    ],
)
def test_incomparable_run_folder_is_refused(tmp_path: Path, kw, message: str):
    with pytest.raises(ConfigError, match=message):
        _load(_run_folder(tmp_path, **kw))


def test_run_folder_without_that_model(tmp_path: Path):
    with pytest.raises(ConfigError, match="has no model 'nope'"):
        _load(_run_folder(tmp_path), model="nope")


def test_missing_source(tmp_path: Path):
    with pytest.raises(ConfigError, match="replay source not found"):
        _load(tmp_path / "nope")
