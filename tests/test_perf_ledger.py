"""Batched ledger writes: lines wait for a flush, a max delay or a size, never longer; a line is never split."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evalkit.rundir.ledger import LedgerWriter, iter_results, result_line
from evalkit.types import Completion, ErrorInfo, ErrorKind, Result, Score


def res(i: int) -> Result:
    return Result(
        sample_id=f"s{i}",
        model="m",
        epoch=0,
        completion=Completion(text="x" * 50),
        scores={},
        request_key=str(i),
    )


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_default_writer_flushes_every_line(tmp_path: Path):
    w = LedgerWriter(tmp_path)
    w.append(res(0))
    w.append(res(1))
    assert _lines(tmp_path / "samples.jsonl") == 2 and w.writes == 2 and w.pending == 0
    w.close()


def test_batched_lines_wait_for_flush_and_go_in_one_write(tmp_path: Path):
    w = LedgerWriter(tmp_path, batch=True, max_delay_s=60)
    for i in range(10):
        w.append(res(i))
    assert _lines(tmp_path / "samples.jsonl") == 0 and w.pending == 10
    w.flush()
    assert _lines(tmp_path / "samples.jsonl") == 10 and w.writes == 1 and w.pending == 0
    w.flush()  # nothing waiting: no write
    assert w.writes == 1
    w.append(res(10))
    w.close()  # close writes the rest
    assert [r.sample_id for r in iter_results(tmp_path)] == [f"s{i}" for i in range(11)]


def test_a_line_older_than_the_max_delay_is_written_by_the_next_append(tmp_path: Path):
    w = LedgerWriter(tmp_path, batch=True, max_delay_s=0.05)
    w.append(res(0))
    assert w.pending == 1
    time.sleep(0.06)
    w.append(res(1))
    assert w.pending == 0 and _lines(tmp_path / "samples.jsonl") == 2
    w.close()


def test_the_size_limit_writes_whole_lines(tmp_path: Path):
    w = LedgerWriter(tmp_path, batch=True, max_delay_s=60, max_bytes=1000)
    for i in range(40):
        w.append(res(i))
        text = (tmp_path / "samples.jsonl").read_text() if (tmp_path / "samples.jsonl").exists() else ""
        assert text == "" or text.endswith("\n")  # never half a line on disk
    assert w.writes >= 3
    w.close()
    assert len(list(iter_results(tmp_path))) == 40


@pytest.mark.parametrize(
    "result",
    [
        res(0),
        Result(
            sample_id="é",
            model="m",
            epoch=2,
            completion=Completion(
                text=None,
                attempts=3,
                cached=True,
                cost_usd=None,
                error=ErrorInfo(ErrorKind.RATE_LIMIT, "429 «slow down»", 429),
            ),
            scores={},
            request_key="k",
            input="in\nput",
            expected={"a": [1, 2]},
            tags={"type": "x"},
            at=1.5,
        ),
        Result(
            sample_id="s",
            model="m",
            epoch=0,
            completion=Completion(
                text="yes",
                finish_reason="stop",
                input_tokens=3,
                output_tokens=1,
                cost_usd=0.25,
                latency_s=0.1,
            ),
            scores={
                "exact_match": Score(1.0, "yes", "read yes", label="correct", meta={"predicted_label": "yes"})
            },
            request_key="k",
        ),
    ],
)
def test_the_fast_line_is_the_results_dict(result: Result):
    assert json.loads(result_line(result)) == result.to_dict()
    assert list(json.loads(result_line(result))) == list(result.to_dict())
