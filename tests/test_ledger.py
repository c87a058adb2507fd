"""evalkit.rundir.ledger: reading run.json and samples.jsonl defensively, appending, resume cells."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _runfolder import res, write_run

from evalkit.errors import RunDirError
from evalkit.rundir.ledger import LedgerWriter, done_cells, iter_results
from evalkit.rundir.manifest import read_manifest
from evalkit.types import ErrorKind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "missing"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"format": 2}', "format 2"),
        ('{"format": 1, "models": [{"group": "open"}]}', "'models' must be a list"),
        ('{"format": 1, "scorers": "exact_match"}', "'scorers' must be a list"),
    ],
)
def test_read_manifest_errors(tmp_path: Path, content: str | None, message: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    if content is not None:
        (run / "run.json").write_text(content, encoding="utf-8")
    with pytest.raises(RunDirError) as exc:
        read_manifest(run)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_read_manifest_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not a run folder"):
        read_manifest(tmp_path / "nope")


def test_read_manifest_ok(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    m = read_manifest(run)
    assert m.run_id == "20261122-101500-a1b2c3" and [x.name for x in m.models] == ["gpt", "llama"]


def test_writer_round_trip_and_flush(tmp_path: Path) -> None:
    results = [res("a", "gpt"), res("a", "llama", error=ErrorKind.TIMEOUT), res("b", "gpt", 0.0, epoch=1)]
    w = LedgerWriter(tmp_path)  # a folder: writes samples.jsonl inside
    for r in results:
        w.append(r)
    # flushed before close: a reader sees every line
    assert list(iter_results(tmp_path)) == results
    w.close()
    assert w.closed
    with pytest.raises(ValueError):
        w.append(results[0])


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        ('{"sample_id": "z", "model": "gpt", "ep', "truncated last line"),
        ("{oops}\n", "corrupt line"),
        ('{"model": "gpt"}\n', "not a result (missing field 'sample_id')"),
        ('"just a string"\n', "not a result"),
        ('{"sample_id": "z", "model": "gpt", "epoch": "x", "completion": {}}\n', "epoch must be an integer"),
        (b"\xff\xfe\n".decode("latin-1"), "corrupt line"),
    ],
)
def test_bad_lines_are_skipped_with_a_warning(tmp_path: Path, extra: str, warning: str) -> None:
    run = write_run(tmp_path / "run", [res("a", "gpt"), res("b", "gpt")])
    with (run / "samples.jsonl").open("a", encoding="latin-1") as f:
        f.write(extra)
    warnings: list[str] = []
    got = list(iter_results(run, warnings))
    assert [r.sample_id for r in got] == ["a", "b"]
    assert len(warnings) == 1 and warning in warnings[0] and "samples.jsonl:3" in warnings[0]


def test_corrupt_line_in_the_middle_does_not_hide_later_lines(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run", [res("a", "gpt")], extra="garbage\n" + json.dumps(res("b", "gpt").to_dict()) + "\n"
    )
    warnings: list[str] = []
    assert [r.sample_id for r in iter_results(run, warnings)] == ["a", "b"]
    assert len(warnings) == 1


def test_duplicate_cell_keeps_the_first(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run", [res("a", "gpt", 1.0), res("a", "gpt", 0.0), res("a", "gpt", 0.0, epoch=1)]
    )
    warnings: list[str] = []
    got = list(iter_results(run, warnings))
    assert [(r.sample_id, r.epoch, r.scores["exact_match"].value) for r in got] == [
        ("a", 0, 1.0),
        ("a", 1, 0.0),
    ]
    assert len(warnings) == 1 and "duplicate cell" in warnings[0]


def test_only_reads_the_given_cells_and_keeps_the_same_first_result(tmp_path: Path) -> None:
    rows = [
        res("a", "gpt", 1.0),
        res("b", "gpt", 1.0),
        res("a", "llama", 0.0),
        res("a", "gpt", 0.0),  # a duplicate: the first is kept, as without ``only``
        res("a", "gpt", 0.5, epoch=1),
        res("c", "llama", 1.0),
    ]
    run = write_run(tmp_path / "run", rows, extra='{"sample_id": "a", "epoch": "0"}\n')  # invalid: skipped
    full = [r for r in iter_results(run) if (r.sample_id, r.epoch) in {("a", 0), ("c", 0)}]
    only = list(iter_results(run, only={("a", 0), ("c", 0)}))
    assert only == full
    assert [(r.sample_id, r.model, r.scores["exact_match"].value) for r in only] == [
        ("a", "gpt", 1.0),
        ("a", "llama", 0.0),
        ("c", "llama", 1.0),
    ]


def test_done_cells(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        [res("a", "gpt"), res("a", "llama", error=ErrorKind.SERVER)],
        extra='{"sample_id": "b", "mod',
    )
    assert done_cells(run) == {("a", "gpt", 0), ("a", "llama", 0)}


def test_missing_ledger_is_empty(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run")
    (run / "samples.jsonl").unlink()
    assert list(iter_results(run)) == []
    assert done_cells(run) == set()
    with pytest.raises(RunDirError):
        list(iter_results(tmp_path / "missing"))


def test_writer_repairs_a_truncated_tail_before_appending(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [res("a", "gpt")], extra='{"sample_id": "half')
    with LedgerWriter(run / "samples.jsonl") as w:
        w.append(res("b", "gpt"))
    warnings: list[str] = []
    assert [r.sample_id for r in iter_results(run, warnings)] == ["a", "b"]
    assert len(warnings) == 1 and "corrupt line" in warnings[0]


def test_writer_keeps_unicode_and_newlines_on_one_line(tmp_path: Path) -> None:
    r = res("a", "gpt", text="line1\nline2 \u2028 café")
    with LedgerWriter(tmp_path / "samples.jsonl") as w:
        w.append(r)
    assert (tmp_path / "samples.jsonl").read_text(encoding="utf-8").count("\n") == 1
    assert next(iter_results(tmp_path / "samples.jsonl")).completion.text == "line1\nline2 \u2028 café"
