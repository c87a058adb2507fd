"""``evalkit score``: run one scorer over a JSONL of outputs, without any model.

Each input row holds ``output`` (the text to judge) plus the sample's fields: ``id`` (optional;
``line-N`` when absent), ``input``, ``expected``, ``tags`` and anything else (``should_refuse``,
``schema``, ``acceptable``...), which become ``Sample.fields``. One JSON verdict per row goes to
``out``::

    {"id": "...", "value": 1.0, "answer": "...", "class": "correct", "explanation": "..."}

and a one-paragraph summary (n, mean, class counts, the family's main extra metrics) to ``err``.
The scorer is built through the registry, exactly as in a run. The whole file is read and
checked before the first verdict is written, so bad input produces no partial output.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, TextIO

from evalkit._util.io import iter_jsonl
from evalkit.errors import ConfigError, DataError
from evalkit.scorers._async import AsyncScoreFn, as_async
from evalkit.scorers.registry import build_scorer, extra_metrics, registered
from evalkit.types import Completion, Sample, Score, ToolCall

_RESERVED = ("output", "id", "input", "expected", "tags", "tool_calls")
SCORE_CHUNK = 256
"""Rows handed to the scorer at once (an async scorer such as ``code_exec`` runs them in parallel)."""


def _parse_args(args_json: str | None) -> dict[str, Any]:
    if args_json is None or not args_json.strip():
        return {}
    try:
        args = json.loads(args_json)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--args: not valid JSON (column {exc.colno}): {exc.msg}") from None
    if not isinstance(args, dict):
        raise ConfigError(f"--args: must be a JSON object of scorer arguments, not {type(args).__name__}")
    return args


def read_rows(path: Path) -> list[tuple[Completion, Sample]]:
    """(the output as a completion, sample) per non-blank line; :class:`DataError` naming ``file:line``
    on any problem. ``tool_calls`` (a list of ``{name, arguments}``) gives the calls a scorer that reads
    the whole completion (``tool_calls``) checks."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows: list[tuple[Completion, Sample]] = []
    for lineno, row in iter_jsonl(path, error=DataError):
        where = f"{path}:{lineno}"
        if "output" not in row:
            raise DataError(f"{where}: the row has no 'output' field (the text to score)")
        output = row["output"]
        if not isinstance(output, str):
            raise DataError(
                f"{where}: 'output' must be a string, not {type(output).__name__ if output is not None else 'null'}"
            )
        sid = row.get("id")  # repeated ids are allowed (several outputs of one sample)
        if sid is None:
            sid = f"line-{lineno}"
        elif isinstance(sid, bool) or not isinstance(sid, str | int):
            raise DataError(f"{where}: 'id' must be a string or an integer")
        sid = str(sid)
        tags = row.get("tags") or {}
        if not isinstance(tags, dict):
            raise DataError(f"{where}: 'tags' must be an object")
        inp = row.get("input", "")
        sample = Sample(
            id=sid,
            input=inp if isinstance(inp, str) else json.dumps(inp, ensure_ascii=False),
            expected=row.get("expected"),
            fields={k: v for k, v in row.items() if k not in _RESERVED},
            tags={str(k): str(v) for k, v in tags.items()},
            line=lineno,
        )
        rows.append((Completion(text=output, tool_calls=_tool_calls(row, where)), sample))
    if not rows:
        raise DataError(f"{path}: no rows (the file is empty)")
    return rows


def _tool_calls(row: dict[str, Any], where: str) -> tuple[ToolCall, ...]:
    calls = row.get("tool_calls")
    if calls is None:
        return ()
    if not isinstance(calls, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls
    ):
        raise DataError(f"{where}: 'tool_calls' must be a list of {{name, arguments}} objects")
    out = []
    for c in calls:
        arguments = c.get("arguments", "")
        out.append(ToolCall(c["name"], arguments if isinstance(arguments, str) else json.dumps(arguments)))
    return tuple(out)


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


async def _score_all(fn: AsyncScoreFn, reads: str, rows: list[tuple[Completion, Sample]]) -> list[Score]:
    """Every row's verdict; an async scorer's rows run together (it bounds its own parallelism)."""
    out: list[Score] = []
    for start in range(0, len(rows), SCORE_CHUNK):
        chunk = rows[start : start + SCORE_CHUNK]
        out += await asyncio.gather(
            *(
                fn(completion if reads == "completion" else completion.text or "", s)
                for completion, s in chunk
            )
        )
    return out


def run_score(scorer: str, args_json: str | None, input_path: Path, out: TextIO, err: TextIO) -> int:
    """Score every row of ``input_path`` with ``scorer``; verdicts to ``out``, a summary to ``err``.

    Raises :class:`ConfigError` (unknown scorer, bad arguments) or :class:`DataError` (missing
    file, bad line, row without ``output``) with one clear line; returns 0 otherwise. Relative
    file arguments (``labels``, ``schema``) resolve against the current directory.
    """
    args = _parse_args(args_json)
    fn = as_async(build_scorer(scorer, args, base_dir=Path.cwd(), where="score", allow_async=True))
    reads = registered()[scorer].reads
    rows = read_rows(Path(input_path))
    scores = asyncio.run(_score_all(fn, reads, rows))
    pairs = []
    total = 0.0
    for (_output, sample), score in zip(rows, scores, strict=True):
        total += score.value
        pairs.append((sample.expected, score))
        verdict = {
            "id": sample.id,
            "value": score.value,
            "answer": score.answer,
            "class": score.label,
            "explanation": score.explanation,
        }
        out.write(json.dumps(verdict, ensure_ascii=False) + "\n")
    out.flush()
    n = len(rows)
    extra = extra_metrics(scorer, args, pairs)
    counts = sorted(extra.get("class_counts", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{scorer}: n={n}, mean={total / n:.3f}", "classes: " + ", ".join(f"{k} {v}" for k, v in counts)]
    keys = (
        "accuracy",
        "macro_f1",
        "invalid_label_share",
        "strict_valid_rate",
        "lenient_valid_rate",
        "refusal_rate",
        "over_refusal_rate",
        "under_refusal_rate",
        "balanced_accuracy",
    )
    shown = [f"{k}={_fmt(extra[k])}" for k in keys if extra.get(k) is not None]
    if shown:
        parts.append(", ".join(shown))
    err.write("; ".join(parts) + ".\n")
    return 0
