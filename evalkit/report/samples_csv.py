"""``samples.csv``: one row per sample x model x epoch, streamed from the ledger in chunks.

Columns: ``sample_id, model, group, epoch, input, expected, output, error_kind, error_message,
finish_reason, input_tokens, output_tokens, cost_usd, latency_s, cached``, then for each scorer
``<key>_value, <key>_label, <key>_answer, <key>_explanation``. Empty cells mean unknown or not
applicable (a failed request has no scores). String cells that a spreadsheet would run as a
formula are neutralised (prefixed with ``'``). Written with pandas, ``CHUNK`` rows at a time, so
memory stays flat however long the ledger is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.ledger import iter_results, read_manifest
from evalkit.report.csv import neutralise

SAMPLES_CSV = "samples.csv"
CHUNK = 5000
BASE_COLUMNS = [
    "sample_id", "model", "group", "epoch", "input", "expected", "output", "error_kind", "error_message",
    "finish_reason", "input_tokens", "output_tokens", "cost_usd", "latency_s", "cached",
]  # fmt: skip


def _rows(run_dir: Path, scorer_keys: list[str], groups: dict[str, str]) -> Iterator[dict[str, Any]]:
    for r in iter_results(run_dir):
        c = r.completion
        expected = r.expected if isinstance(r.expected, str) or r.expected is None else json.dumps(r.expected)
        row: dict[str, Any] = {
            "sample_id": r.sample_id, "model": r.model, "group": groups.get(r.model, ""), "epoch": r.epoch,
            "input": r.input, "expected": expected, "output": c.text,
            "error_kind": str(c.error.kind) if c.error else None, "error_message": c.error.message if c.error else None,
            "finish_reason": c.finish_reason, "input_tokens": c.input_tokens, "output_tokens": c.output_tokens,
            "cost_usd": c.cost_usd, "latency_s": c.latency_s, "cached": c.cached,
        }  # fmt: skip
        for key in scorer_keys:
            s = r.scores.get(key)
            row[f"{key}_value"] = s.value if s else None
            row[f"{key}_label"] = s.label if s else None
            row[f"{key}_answer"] = s.answer if s else None
            row[f"{key}_explanation"] = s.explanation if s else None
        yield {k: neutralise(_clean(v)) for k, v in row.items()}


def _clean(value: Any) -> Any:
    """Lone surrogates (possible in a JSON ledger) cannot be written as UTF-8: replace them."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


def write_samples_csv(run_dir: Path) -> Path:
    manifest = read_manifest(run_dir)
    keys = [str(s.get("key")) for s in manifest.get("scorers", [])]
    groups = {str(m.get("name")): str(m.get("group")) for m in manifest.get("models", [])}
    columns = BASE_COLUMNS + [
        f"{k}_{part}" for k in keys for part in ("value", "label", "answer", "explanation")
    ]
    path = run_dir / SAMPLES_CSV
    tmp = path.with_name(f"{SAMPLES_CSV}.{os.getpid()}.tmp")
    pd.DataFrame(columns=columns).to_csv(tmp, index=False, encoding="utf-8", errors="replace")
    chunk: list[dict[str, Any]] = []
    for row in _rows(run_dir, keys, groups):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            pd.DataFrame(chunk, columns=columns).to_csv(
                tmp, mode="a", header=False, index=False, errors="replace"
            )
            chunk = []
    if chunk:
        pd.DataFrame(chunk, columns=columns).to_csv(
            tmp, mode="a", header=False, index=False, errors="replace"
        )
    os.replace(tmp, path)
    return path
