"""``evalkit merge RUN_DIR...``: the run folders of one suite's shards combined into one run folder.

The inputs must be shards of one run: the same suite (hash), the same data (sha256), the same
``--models`` and ``--limit``, epochs, models (model string, group, endpoint, parameters, price) and
shard count and rule. The first difference is named and the merge refused (:class:`RunDirError`,
exit 2). The same shard may be given twice (a retried CI job whose artifacts were both kept).

The ledgers are combined cell by cell, ``(sample_id, model, epoch)`` once:

* the same cell twice with the same answer (text, error kind, verdict values): kept once, silently;
* an answer and a failed request: the answer is kept (warning);
* two failed requests: the first is kept (warning);
* two *different answers*: refused — the folders are not copies of one shard (say which to drop).

The merged folder gets a new run id, ``merged_from`` (where each part came from) and the status
``finished`` when every cell of the suite (every sample x epoch of every model that ran) is there,
else ``partial`` with a warning naming how many cells each model misses. ``evalkit merge`` then writes
its report exactly as ``evalkit report`` would, so a merged run has the same summary.json, summary.csv
and gaps.csv as the unsharded run (bar run id, times and paths).
Corrupt ledger lines are reported as :func:`evalkit.rundir.ledger.iter_results` reports them, and skipped.
Two passes over the ledgers keep only a small tuple per cell in memory, never a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import RunDirError
from evalkit.rundir.ledger import Cell, LedgerWriter, iter_results
from evalkit.rundir.manifest import Manifest, new_run_id, now_iso, read_manifest, write_manifest
from evalkit.rundir.records import ModelEntry
from evalkit.rundir.shard import SHARD_RULE, Shard
from evalkit.types import Result

__all__ = ["MergeOutcome", "merge_runs"]

Echo = Callable[[str], None]

_MODEL_FIELDS = ("model", "group", "api_base", "params", "price")
"""What must match, per model, between shards (status, counts and concurrency may differ)."""


@dataclass
class MergeOutcome:
    run_dir: Path
    status: str
    """``finished`` (every cell present) or ``partial``."""
    message: str
    cells: int = 0
    missing: dict[str, int] = field(default_factory=dict)
    """Model -> cells missing (only models with any missing)."""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Part:
    path: Path
    manifest: Manifest
    shard: Shard

    @property
    def label(self) -> str:
        return f"{self.path} (shard {self.shard})"


def merge_runs(run_dirs: Sequence[Path], *, output: Path | None = None, echo: Echo = print) -> MergeOutcome:
    """Check, combine and report; see the module docstring. Raises :class:`RunDirError` (exit 2)."""
    parts = _load_parts(run_dirs)
    _check_compatible(parts)
    suite_name = parts[0].manifest.suite.name or "suite"
    out = _output_dir(output, suite_name, [p.path for p in parts])

    warnings: list[str] = []
    winners, dup_notes, foreign = _pick_cells(parts, warnings)
    warnings.extend(dup_notes)
    if foreign:
        n, (first_part, first_cell) = foreign
        warnings.append(
            f"{n} cell(s) are in a shard folder whose shard does not own them, e.g. {_fmt(first_cell)} in "
            f"{first_part}: kept (was that ledger edited, or written with another shard rule?)"
        )

    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _write(parts, winners, warnings, out, output is None, echo)
    except BaseException:  # a failed or interrupted merge leaves no half-written run folder behind
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _write(
    parts: list[_Part],
    winners: dict[Cell, tuple[int, int]],
    warnings: list[str],
    out: Path,
    named_by_id: bool,
    echo: Echo,
) -> MergeOutcome:
    """Pass 2: the merged ledger, run.json and the report."""
    per_model: dict[str, Counter[str]] = {}
    with LedgerWriter(out, batch=True) as writer:
        for i, part in enumerate(parts):
            for j, r in _numbered(part.path):
                if winners.get(r.cell) == (i, j):
                    writer.append(r)
                    c = per_model.setdefault(r.model, Counter())
                    c["done"] += 1
                    c["errors"] += r.completion.error is not None
                    c["cached"] += bool(r.completion.cached)

    manifest, missing = _merged_manifest(parts, per_model, out.name if named_by_id else new_run_id())
    status = "finished" if not missing else "partial"
    manifest.update(status=status)
    if missing:
        lost = ", ".join(f"{m}: {k} cell(s)" for m, k in missing.items())
        shards_seen = {p.shard.index for p in parts}
        absent = [
            f"{i}/{parts[0].shard.count}" for i in range(1, parts[0].shard.count + 1) if i not in shards_seen
        ]
        warnings.append(
            f"the merged run is partial: missing {lost}"
            + (f" (shard(s) {', '.join(absent)} not given)" if absent else "")
        )
    write_manifest(out, manifest)
    for w in warnings:
        echo(f"warning: {w}")
    cells = sum(c["done"] for c in per_model.values())
    what = "merged" if status == "finished" else "merged (PARTIAL: some cells are missing; see the warning)"
    return MergeOutcome(
        run_dir=out,
        status=status,
        message=f"{what} {len(parts)} run folder(s), {cells} cells: report {out / 'report.html'}",
        cells=cells,
        missing=missing,
        warnings=warnings,
    )


def _load_parts(run_dirs: Sequence[Path]) -> list[_Part]:
    if not run_dirs:
        raise RunDirError("merge: give the run folders of the shards to merge")
    seen: dict[Path, Path] = {}
    parts: list[_Part] = []
    for d in run_dirs:
        manifest = read_manifest(d)
        key = Path(d).resolve()
        if key in seen:
            raise RunDirError(f"merge: {d} is given twice")
        seen[key] = Path(d)
        shard = manifest.shard or Shard(1, 1)
        parts.append(_Part(Path(d), manifest, shard))
    return sorted(parts, key=lambda p: p.shard.index)  # stable: the given order within a shard


def _get(m: Any, *path: str) -> Any:
    cur: Any = m
    for key in path:
        cur = cur.get(key) if isinstance(cur, dict) else None
    return cur


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_compatible(parts: list[_Part]) -> None:
    """Refuse (one line naming both folders and the first difference) unless all are shards of one run."""
    first = parts[0]
    checks: list[tuple[str, Callable[[_Part], Any]]] = [
        ("suite name", lambda p: p.manifest.suite.name),
        ("suite hash (the suite file or its prompt/label files changed)", lambda p: p.manifest.suite.hash),
        ("dataset sha256 (the data changed)", lambda p: p.manifest.dataset.sha256),
        ("--limit", lambda p: p.manifest.limit),
        ("--models", lambda p: p.manifest.options.get("models")),
        ("epochs", lambda p: p.manifest.epochs),
        ("models", lambda p: [m.name for m in p.manifest.models]),
        ("scorers", lambda p: p.manifest.scorers),
        ("shard count", lambda p: p.shard.count),
        (
            "shard rule",
            lambda p: _get(p.manifest.shard_record, "rule") or (SHARD_RULE if p.shard.count > 1 else None),
        ),
    ]
    for other in parts[1:]:
        for label, get in checks:
            a, b = get(first), get(other)
            if a != b:
                raise RunDirError(
                    f"merge: {first.path} and {other.path} are not shards of one run: {label} differs "
                    f"({_short(a)} vs {_short(b)})"
                )
        theirs = {m.name: m for m in other.manifest.models}
        for m in first.manifest.models:
            o = theirs[m.name]
            for key in _MODEL_FIELDS:
                if getattr(m, key) != getattr(o, key):
                    raise RunDirError(
                        f"merge: {first.path} and {other.path} are not shards of one run: model "
                        f"{m.name!r} {key} differs ({_short(getattr(m, key))} vs {_short(getattr(o, key))})"
                    )


def _output_dir(output: Path | None, suite_name: str, inputs: list[Path]) -> Path:
    if output is None:
        root = Path(os.environ.get("EVALKIT_RESULTS_DIR", "results"))
        return root / suite_name / new_run_id()
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise RunDirError(f"merge: --output {output} already exists and is not an empty folder")
    resolved = output.resolve()
    if any(resolved == p.resolve() for p in inputs):
        raise RunDirError(f"merge: --output {output} is one of the folders being merged")
    return output


def _numbered(path: Path, warnings: list[str] | None = None) -> Iterator[tuple[int, Result]]:
    yield from enumerate(iter_results(path, warnings if warnings is not None else []))


def _digest(r: Result) -> bytes:
    """What makes two copies of a cell the same answer: the request, the text or error kind, the verdicts."""
    c = r.completion
    doc = {
        "key": r.request_key,
        "text": c.text,
        "error": None if c.error is None else str(c.error.kind),
        "scores": {k: v.value for k, v in sorted(r.scores.items())},
    }
    return hashlib.blake2b(json.dumps(doc, sort_keys=True, default=str).encode(), digest_size=16).digest()


def _fmt(cell: Cell) -> str:
    sid, model, epoch = cell
    return f"(sample {sid!r}, model {model!r}, epoch {epoch})"


def _pick_cells(
    parts: list[_Part], warnings: list[str]
) -> tuple[dict[Cell, tuple[int, int]], list[str], tuple[int, tuple[str, Cell]] | None]:
    """Pass 1: the (part, line ordinal) kept for every cell; notes on duplicates; cells outside their shard."""
    best: dict[Cell, tuple[int, int, bool, bytes]] = {}
    kinds: Counter[str] = Counter()
    example: dict[str, str] = {}
    foreign: tuple[int, tuple[str, Cell]] | None = None
    for i, part in enumerate(parts):
        for j, r in _numbered(part.path, warnings):
            cell = r.cell
            if part.shard.count > 1 and not part.shard.owns(r.sample_id):
                foreign = (foreign[0] + 1, foreign[1]) if foreign else (1, (str(part.path), cell))
            ok = r.completion.error is None
            digest = _digest(r)
            held = best.get(cell)
            if held is None:
                best[cell] = (i, j, ok, digest)
                continue
            hi, _hj, hok, hdigest = held
            if hdigest == digest:
                continue
            if hok and ok:
                raise RunDirError(
                    f"merge: {_fmt(cell)} has two different answers, in {parts[hi].label} and "
                    f"{part.label}: these are not copies of one shard; leave one of them out"
                )
            kind = "kept the answer over a failed request" if ok or hok else "both failed: kept the first"
            if ok and not hok:
                best[cell] = (i, j, ok, digest)
            kinds[kind] += 1
            example.setdefault(kind, f"{_fmt(cell)} in {parts[hi].path} and {part.path}")
    notes = [f"{n} duplicate cell(s) differ: {kind}, e.g. {example[kind]}" for kind, n in kinds.items()]
    return {c: (v[0], v[1]) for c, v in best.items()}, notes, foreign


def _merged_manifest(
    parts: list[_Part], per_model: dict[str, Counter[str]], run_id: str
) -> tuple[Manifest, dict[str, int]]:
    first = parts[0].manifest
    base = first.to_dict()
    for key in ("resumed_at", "execution", "counts", "budget"):
        base.pop(key, None)
    epochs = first.epochs or 1
    n_used = first.dataset.n_used if first.dataset.n_used is not None else first.dataset.n_samples
    models: list[dict[str, Any]] = []
    missing: dict[str, int] = {}
    for m in first.models:
        copies = [next(x for x in p.manifest.models if x.name == m.name) for p in parts]
        merged = dict(m.raw)
        merged.update(_merged_status(copies, parts))
        done = per_model.get(m.name, Counter())
        merged["counts"] = {k: done[k] for k in ("done", "errors", "cached")}
        replayed = [c.counts.get("replayed") for c in copies]
        if any(isinstance(v, int) for v in replayed):  # a replayed model (one count per shard)
            merged["counts"]["replayed"] = sum(v for v in replayed if isinstance(v, int))
        merged["concurrency_seen"] = None
        models.append(merged)
        if merged["status"] != "skipped" and isinstance(n_used, int):
            lacking = n_used * epochs - done["done"]
            if lacking > 0:
                missing[m.name] = lacking
    ran = [m for m in models if m["status"] != "skipped"]
    spent = [p.manifest.budget.get("spent_usd") for p in parts]
    now = now_iso()
    started = [s for s in (p.manifest.started_at for p in parts) if s]
    finished = [s for s in (p.manifest.finished_at for p in parts) if s]
    merged_manifest = Manifest(base)
    merged_manifest.update(
        run_id=run_id,
        started_at=min(started) if started else None,
        finished_at=max(finished) if finished else now,
        merged_at=now,
        shard=None,
        models=models,
        counts={
            "planned": (n_used if isinstance(n_used, int) else 0) * epochs * len(ran),
            "done": sum(m["counts"]["done"] for m in models),
            "errors": sum(m["counts"]["errors"] for m in models),
            "cached": sum(m["counts"]["cached"] for m in models),
        },
        budget={
            "max_cost_usd": first.suite_config.get("max_cost_usd"),
            "spent_usd": round(sum(s for s in spent if isinstance(s, int | float)), 6),
            "exhausted": any(p.manifest.budget.get("exhausted") for p in parts),
        },
        merged_from=[
            {
                "path": str(p.path),
                "run_id": p.manifest.run_id,
                "shard": {"index": p.shard.index, "count": p.shard.count},
                "status": p.manifest.status,
            }
            for p in parts
        ],
    )
    return merged_manifest, missing


def _merged_status(copies: list[ModelEntry], parts: list[_Part]) -> dict[str, Any]:
    """A model's status over the shards: the same everywhere, else ``stopped`` if any shard stopped
    it, else ``ok`` (it ran somewhere; the shards that skipped it leave cells missing)."""
    statuses = [c.status or "ok" for c in copies]
    if len(set(statuses)) == 1:
        return {"status": statuses[0], "status_reason": copies[0].status_reason}
    for want in ("stopped", "skipped"):
        for c, p in zip(copies, parts, strict=True):
            if c.status == want:
                reason = f"{want} in shard {p.shard}: {c.status_reason or '?'}"
                return {"status": "stopped" if want == "stopped" else "ok", "status_reason": reason}
    return {"status": "ok", "status_reason": None}
