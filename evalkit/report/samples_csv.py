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
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit._util.spreadsheet import neutralise
from evalkit.rundir.ledger import iter_results
from evalkit.rundir.manifest import Manifest, read_manifest
from evalkit.types import Result

SAMPLES_CSV = "samples.csv"
CHUNK = 5000
BASE_COLUMNS = [
    "sample_id", "model", "group", "epoch", "input", "expected", "output", "error_kind", "error_message",
    "finish_reason", "input_tokens", "output_tokens", "cost_usd", "latency_s", "cached",
]  # fmt: skip


def _row(r: Result, scorer_keys: list[str], groups: dict[str, str]) -> dict[str, Any]:
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
    return {k: neutralise(_clean(v)) for k, v in row.items()}


def _clean(value: Any) -> Any:
    """Lone surrogates (possible in a JSON ledger) cannot be written as UTF-8: replace them."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


class SamplesCsv:
    """samples.csv written as the results stream past (:meth:`add`), ``CHUNK`` rows at a time, so
    the report reads the ledger once for everything; :meth:`close` puts the file in place."""

    def __init__(self, run_dir: Path, manifest: Manifest) -> None:
        self.keys = manifest.scorer_keys
        self.groups = {m.name: str(m.group) for m in manifest.models}
        self.columns = BASE_COLUMNS + [
            f"{k}_{part}" for k in self.keys for part in ("value", "label", "answer", "explanation")
        ]
        self.path = run_dir / SAMPLES_CSV
        self.tmp = self.path.with_name(f"{SAMPLES_CSV}.{os.getpid()}.tmp")
        pd.DataFrame(columns=self.columns).to_csv(self.tmp, index=False, encoding="utf-8", errors="replace")
        self.chunk: list[dict[str, Any]] = []

    def add(self, r: Result) -> None:
        self.chunk.append(_row(r, self.keys, self.groups))
        if len(self.chunk) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        pd.DataFrame(self.chunk, columns=self.columns).to_csv(
            self.tmp, mode="a", header=False, index=False, errors="replace"
        )
        self.chunk = []

    def close(self) -> Path:
        if self.chunk:
            self._flush()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.tmp.unlink(missing_ok=True)


def write_samples_csv(run_dir: Path) -> Path:
    """samples.csv from the run folder alone (its own pass over the ledger)."""
    writer = SamplesCsv(run_dir, read_manifest(run_dir))
    try:
        for r in iter_results(run_dir):
            writer.add(r)
    except BaseException:
        writer.abort()
        raise
    return writer.close()
