"""evalkit.analysis.compare: the cross-task table, Holm across tasks, and refusing incomparable runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from _runfolder import res, write_run

from evalkit.analysis.compare import COMPARE_COLUMNS, compare_runs
from evalkit.cli import main
from evalkit.errors import RunDirError
from evalkit.report.compare import format_table, to_markdown
from evalkit.stats import holm

N = 100


def _run(
    folder: Path,
    task: str,
    passes: dict[str, int],
    *,
    groups: dict[str, str] | None = None,
    started: str = "2026-11-22T10:15:00Z",
    dataset: str = "d" * 64,
    task_hash: str = "t" * 64,
    gate: dict[str, Any] | None = None,
) -> Path:
    """A run of ``task``: each model passes the first ``passes[model]`` of N examples."""
    groups = groups or {"gpt": "closed", "llama": "open", "qwen": "open"}
    rs = [res(f"s{i}", m, 1.0 if i < k else 0.0) for m, k in passes.items() for i in range(N)]
    models = [(m, groups[m]) for m in passes]
    run = write_run(folder, rs, models=models, gate={"scorer": "exact_match", **(gate or {"max_gap": 0.1})})
    manifest = json.loads((run / "run.json").read_text())
    manifest["suite"].update(name=task, task_hash=task_hash)
    manifest["dataset"]["sha256"] = dataset
    manifest["started_at"] = started
    (run / "run.json").write_text(json.dumps(manifest))
    return run


def test_one_row_per_task_with_holm_across_tasks(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", "classification", {"gpt": 90, "llama": 88, "qwen": 70})
    b = _run(tmp_path / "b", "extraction", {"gpt": 95, "llama": 60}, task_hash="x" * 64, dataset="y" * 64)
    table = compare_runs([a, b])
    assert [r.task for r in table.rows] == ["classification", "extraction"]
    cls, ext = table.rows
    assert (cls.closed_model, cls.closed_score, cls.open_model, cls.open_score) == ("gpt", 0.9, "llama", 0.88)
    assert cls.gap == pytest.approx(0.02) and cls.n_examples == N and cls.p_method == "McNemar exact"
    assert cls.verdict == "migrate" and cls.exit_code == 0 and cls.reason.startswith("MIGRATE to llama")
    assert ext.verdict == "stay" and ext.exit_code == 1 and ext.gap == pytest.approx(0.35)
    assert [r.p_holm for r in table.rows] == holm([r.p_value for r in table.rows])
    assert table.holm_family == 2
    text = format_table(table)
    assert text.splitlines()[0].split() == [
        "task",
        "scorer",
        "best",
        "closed",
        "best",
        "open",
        "gap",
        "CI",
        "examples",
        "p",
        "(Holm)",
        "verdict",
        "partial",
        "migration",
    ]
    assert "Holm-corrected across the 2 task(s)" in text


def test_comparable_runs_of_one_task_are_pooled(tmp_path: Path) -> None:
    closed = _run(tmp_path / "c", "cls", {"gpt": 90}, started="2026-11-20T10:00:00Z")
    open_ = _run(tmp_path / "o", "cls", {"llama": 85, "qwen": 50}, started="2026-11-21T10:00:00Z")
    (row,) = compare_runs([closed, open_]).rows
    assert (row.closed_model, row.open_model, row.n_examples) == ("gpt", "llama", N)
    assert row.gap == pytest.approx(0.05) and row.runs == (str(closed), str(open_))


def test_a_model_in_two_runs_is_taken_from_the_newest(tmp_path: Path) -> None:
    old = _run(tmp_path / "old", "cls", {"gpt": 90, "llama": 50}, started="2026-11-20T10:00:00Z")
    new = _run(tmp_path / "new", "cls", {"llama": 89}, started="2026-11-21T10:00:00Z")
    table = compare_runs([old, new])
    (row,) = table.rows
    assert row.open_score == pytest.approx(0.89)
    assert any("llama from" in n and str(new) in n for n in table.notes)


@pytest.mark.parametrize(
    ("kw", "what"),
    [
        ({"dataset": "e" * 64}, "different dataset sha256 dddddddddddd vs eeeeeeeeeeee"),
        ({"task_hash": "u" * 64}, "different suite task_hash tttttttttttt vs uuuuuuuuuuuu"),
    ],
)
def test_incomparable_runs_of_one_task_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kw: dict[str, str], what: str
) -> None:
    a = _run(tmp_path / "a", "cls", {"gpt": 90})
    b = _run(tmp_path / "b", "cls", {"llama": 80}, **kw)
    with pytest.raises(RunDirError, match=what):
        compare_runs([a, b])
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(a) in err[0] and str(b) in err[0] and what in err[0]


def test_a_task_without_an_open_model_cannot_decide(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", "cls", {"gpt": 90})
    (row,) = compare_runs([a]).rows
    assert row.verdict == "cannot decide" and row.exit_code == 3 and row.open_model is None
    assert row.p_holm is None and "—" in format_table(compare_runs([a]))


def test_cli_writes_csv_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _run(tmp_path / "a", "classification", {"gpt": 90, "llama": 88})
    b = _run(tmp_path / "b", "=extraction|x", {"gpt": 95, "llama": 60}, task_hash="x" * 64)
    out = tmp_path / "out"
    assert main(["compare", str(a), str(b), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "classification" in printed and "migrate" in printed and "stay" in printed
    with (out / "compare.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COMPARE_COLUMNS
    assert rows[0]["task"] == "classification" and rows[0]["verdict"] == "migrate"
    assert rows[1]["task"] == "'=extraction|x"  # a formula is neutralised
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert md == to_markdown(compare_runs([a, b]))
    assert "| =extraction\\|x |" in md and md.count("\n| ") == 3


def test_compare_missing_folder_is_exit_2(tmp_path: Path) -> None:
    assert main(["compare", str(tmp_path / "nope")]) == 2
