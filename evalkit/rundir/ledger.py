"""The ledger (``samples.jsonl``): one line per result, appended as each lands.

See ``docs/run-folder.md`` for the format. Reading is defensive: the ledger is appended while a
run is in flight and may end in a half-written line if the process was killed, so a line that
does not parse is reported and skipped, never trusted. A cell ``(sample_id, model, epoch)``
that appears twice keeps its first line (a resumed run must not double-count).

Writing is the runner's: :class:`LedgerWriter` appends one line per result. By default each line
is flushed at once; with ``batch=True`` lines are gathered and written together, at the latest
``max_delay_s`` (0.1 s) after the first of them (the runner also flushes at the end of every event
loop turn, so a network result reaches the OS before the loop waits again). See
``docs/reliability.md`` for what a kill can lose.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Container, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from evalkit.errors import RunDirError
from evalkit.types import Result

__all__ = [
    "LEDGER_NAME",
    "Cell",
    "LedgerWriter",
    "done_cells",
    "iter_results",
    "ledger_path",
    "result_line",
]

LEDGER_NAME = "samples.jsonl"

Cell = tuple[str, str, int]
"""(sample_id, model, epoch)."""


def ledger_path(run_dir: str | Path) -> Path:
    """The ledger of a run folder (or ``run_dir`` itself when it already names a file)."""
    p = Path(run_dir)
    return p if p.is_file() else p / LEDGER_NAME


def iter_results(
    run_dir: str | Path,
    warnings: list[str] | None = None,
    *,
    only: Container[tuple[str, int]] | None = None,
) -> Iterator[Result]:
    """Stream the ledger's results, one line at a time, in the order they landed.

    Truncated or corrupt lines and repeated cells are skipped; a one-line explanation of each is
    appended to ``warnings`` when a list is given. A run folder without a ledger yet (every model
    skipped) yields nothing. ``run_dir`` may also be the path of a ledger file. ``only``: just the
    results of these ``(sample_id, epoch)`` cells (the others are not turned into results at all).
    """
    path = ledger_path(run_dir)
    if not path.exists():
        if not Path(run_dir).is_dir():
            raise RunDirError(f"{run_dir}: not a run folder (it does not exist or is not a directory)")
        return
    sink: list[str] = warnings if warnings is not None else []
    seen: set[Cell] = set()
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            result = _parse_line(raw, path, lineno, sink, only)
            if result is None:
                continue
            if result.cell in seen:
                sink.append(f"{path}:{lineno}: duplicate cell {_fmt_cell(result.cell)}: kept the first")
                continue
            seen.add(result.cell)
            yield result


def _fmt_cell(cell: Cell) -> str:
    sid, model, epoch = cell
    return f"(sample {sid!r}, model {model!r}, epoch {epoch})"


def _parse_line(
    raw: bytes, path: Path, lineno: int, sink: list[str], only: Container[tuple[str, int]] | None = None
) -> Result | None:
    complete = raw.endswith(b"\n")
    try:
        obj = json.loads(raw.decode("utf-8"))
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        if only is not None:
            cell = (obj.get("sample_id"), obj.get("epoch", 0))
            if not isinstance(cell[0], str) or not isinstance(cell[1], int) or cell not in only:
                return None
        result = Result.from_dict(obj)
        if not isinstance(result.sample_id, str) or not isinstance(result.model, str):
            raise ValueError("sample_id and model must be strings")
        if not isinstance(result.epoch, int) or isinstance(result.epoch, bool):
            raise ValueError("epoch must be an integer")
        if not isinstance(result.tags, dict):
            raise ValueError("tags must be an object")
        return result
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        if not complete:
            sink.append(f"{path}:{lineno}: skipped a truncated last line (the run was stopped mid-write)")
        else:
            sink.append(f"{path}:{lineno}: skipped a corrupt line ({type(exc).__name__}: {_short(exc)})")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"missing field {exc}" if isinstance(exc, KeyError) else _short(exc)
        sink.append(f"{path}:{lineno}: skipped a line that is not a result ({what})")
    return None


def _short(exc: Exception, limit: int = 120) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def done_cells(run_dir: str | Path, warnings: list[str] | None = None) -> set[Cell]:
    """The cells already in the ledger (answered or errored), for ``--resume``.

    Exactly the cells :func:`iter_results` yields: a truncated line is not done.
    """
    return {r.cell for r in iter_results(run_dir, warnings)}


def result_line(result: Result) -> str:
    """``result`` as its ledger line: the JSON of :meth:`Result.to_dict`, built without ``dataclasses.asdict``
    (which deep-copies every field and was the better part of writing a line)."""
    c = result.completion
    err = c.error
    completion = {
        "text": c.text,
        "finish_reason": c.finish_reason,
        "input_tokens": c.input_tokens,
        "output_tokens": c.output_tokens,
        "cost_usd": c.cost_usd,
        "latency_s": c.latency_s,
        "attempts": c.attempts,
        "cached": c.cached,
        "error": None
        if err is None
        else {"kind": str(err.kind), "message": err.message, "status": err.status},
    }
    if c.ttft_s is not None:  # streamed requests only: older lines have no such key
        completion["ttft_s"] = c.ttft_s
    if c.via is not None:  # batch answers only
        completion["via"] = c.via
        completion["batch_id"] = c.batch_id
    line = {
        "sample_id": result.sample_id,
        "model": result.model,
        "epoch": result.epoch,
        "request_key": result.request_key,
        "input": result.input,
        "expected": result.expected,
        "tags": result.tags,
        "completion": completion,
        "scores": {k: v.to_dict() for k, v in result.scores.items()},
        "at": result.at,
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


class LedgerWriter:
    """Append-only writer of ``samples.jsonl``: one JSON line per result.

    ``path`` is the ledger file or the run folder. If the file ends in a half-written line (a
    killed run being resumed) a newline is written first, so the new line stays parseable and
    the broken one is the only one skipped.

    ``batch=False`` (the default): each line is written and flushed by :meth:`append`.
    ``batch=True``: lines are buffered and written in one ``write`` when :meth:`flush` is called,
    when ``max_bytes`` are waiting, or by the first :meth:`append` that comes ``max_delay_s`` or more
    after the oldest waiting line; :meth:`close` writes the rest. A line is never split between writes.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = False,
        batch: bool = False,
        max_delay_s: float = 0.1,
        max_bytes: int = 1 << 16,
    ) -> None:
        p = Path(path)
        if p.is_dir():
            p = p / LEDGER_NAME
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        self._fsync = fsync
        self._batch = batch
        self._max_delay = max_delay_s
        self._max_bytes = max_bytes
        self._buf: list[str] = []
        self._buf_bytes = 0
        self._oldest = 0.0
        self.writes = 0
        """How many times lines were handed to the OS (for the benchmark and tests)."""
        needs_newline = False
        if p.exists() and p.stat().st_size > 0:
            with p.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                needs_newline = f.read(1) != b"\n"
        self._f: IO[str] | None = p.open("a", encoding="utf-8", newline="\n")
        if needs_newline:
            self._f.write("\n")
            self._f.flush()

    def append(self, result: Result) -> None:
        """Write ``result`` as one line (at once, or batched: see the class)."""
        self.append_line(result_line(result))

    def append_line(self, line: str) -> None:
        """Append one already-serialised result (no newline inside)."""
        if self._f is None:
            raise ValueError(f"{self.path}: ledger writer is closed")
        if not self._batch:
            self._f.write(line + "\n")
            self._write_out()
            return
        if not self._buf:
            self._oldest = time.monotonic()
        self._buf.append(line)
        self._buf_bytes += len(line) + 1
        if self._buf_bytes >= self._max_bytes or time.monotonic() - self._oldest >= self._max_delay:
            self.flush()

    @property
    def pending(self) -> int:
        """Lines buffered and not yet written."""
        return len(self._buf)

    def flush(self) -> None:
        """Write every buffered line now (one ``write``)."""
        if self._f is None or not self._buf:
            return
        self._buf.append("")
        self._f.write("\n".join(self._buf))
        self._buf.clear()
        self._buf_bytes = 0
        self._write_out()

    def _write_out(self) -> None:
        assert self._f is not None
        self._f.flush()
        self.writes += 1
        if self._fsync:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        if self._f is not None:
            self.flush()
            self._f.close()
            self._f = None

    @property
    def closed(self) -> bool:
        return self._f is None

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
