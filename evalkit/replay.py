"""Replaying recorded outputs instead of calling a provider.

A model entry with ``replay:`` takes its answers from a previous run folder or from a JSONL of
``{"id": ..., "output": ..., "epoch": 0}`` rows (production logs, another tool's results), so CI
can re-run only the candidate against a baseline recorded once. Replayed answers are scored
by the same scorers as live ones and cost nothing this run.

A replay is checked when the run is planned, before the first request:

* a run folder must have been recorded on the same data (dataset sha256) and the same task
  (prompt, scorers, dataset mapping: the suite's ``task_hash``), else it is refused with the
  reason — its answers would not be comparable;
* a JSONL must be valid, with unique ``(id, epoch)`` pairs, every id a sample of the dataset,
  and every sample present (a missing answer would silently shrink the comparison).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from evalkit.errors import ConfigError
from evalkit.types import Completion


@dataclass(frozen=True)
class Replay:
    source: Path
    answers: dict[tuple[str, int], Completion]

    def get(self, sample_id: str, epoch: int) -> Completion | None:
        return self.answers.get((sample_id, epoch))


def load_replay(
    path: Path,
    *,
    model: str,
    sample_ids: list[str],
    epochs: int,
    dataset_sha256: str,
    task_hash: str,
    where: str,
) -> Replay:
    """Load and check a replay source for the model named ``model`` (its display name in that run)."""
    if path.is_dir():
        answers = _from_run(
            path, model=model, dataset_sha256=dataset_sha256, task_hash=task_hash, where=where
        )
    elif path.is_file():
        answers = _from_jsonl(path, where=where)
    else:
        raise ConfigError(f"{where}: replay source not found: {path}")
    wanted = {(s, e) for s in sample_ids for e in range(epochs)}
    unknown = sorted({s for s, _ in answers} - set(sample_ids))
    if unknown and not path.is_dir():
        raise ConfigError(
            f"{where}: {path} has answers for ids that are not in the dataset (first: '{unknown[0]}')"
        )
    missing = sorted(wanted - set(answers))
    if missing:
        sid, epoch = missing[0]
        raise ConfigError(
            f"{where}: {path} lacks {len(missing)} of {len(wanted)} answers (first: '{sid}', epoch {epoch}); "
            "a replayed baseline must cover every example"
        )
    return Replay(path, {k: v for k, v in answers.items() if k in wanted})


def _from_run(
    run_dir: Path, *, model: str, dataset_sha256: str, task_hash: str, where: str
) -> dict[tuple[str, int], Completion]:
    from evalkit.errors import RunDirError
    from evalkit.ledger import iter_results, read_manifest

    try:
        manifest = read_manifest(run_dir)
    except RunDirError as exc:
        raise ConfigError(f"{where}: replay: {exc.message}") from None
    recorded_sha = manifest.get("dataset", {}).get("sha256")
    if recorded_sha != dataset_sha256:
        raise ConfigError(
            f"{where}: replay {run_dir} was recorded on different data "
            f"(dataset sha256 {str(recorded_sha)[:12]} here {dataset_sha256[:12]})"
        )
    recorded_task = manifest.get("suite", {}).get("task_hash")
    if recorded_task != task_hash:
        raise ConfigError(
            f"{where}: replay {run_dir} was recorded with a different prompt, scorers or data mapping "
            f"(task hash {str(recorded_task)[:12]} here {task_hash[:12]})"
        )
    names = [m.get("name") for m in manifest.get("models", [])]
    if model not in names:
        raise ConfigError(
            f"{where}: replay {run_dir} has no model '{model}' (it has: {', '.join(map(str, names))})"
        )
    answers: dict[tuple[str, int], Completion] = {}
    for r in iter_results(run_dir):
        if r.model == model and r.completion.ok:
            answers[(r.sample_id, r.epoch)] = replace(r.completion, cached=True)
    return answers


def _from_jsonl(path: Path, *, where: str) -> dict[tuple[str, int], Completion]:
    answers: dict[tuple[str, int], Completion] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{path}:{lineno}: replay: invalid JSON at column {exc.colno}: {exc.msg}"
                ) from None
            if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("output"), str):
                raise ConfigError(f"{path}:{lineno}: replay rows need 'id' and a string 'output'")
            epoch = row.get("epoch", 0)
            if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
                raise ConfigError(f"{path}:{lineno}: replay: 'epoch' must be a whole number >= 0")
            key = (str(row["id"]), epoch)
            if key in answers:
                raise ConfigError(
                    f"{path}:{lineno}: replay: a second answer for id '{key[0]}', epoch {epoch}"
                )
            answers[key] = Completion(text=row["output"], finish_reason="replay", cached=True)
    if not answers:
        raise ConfigError(f"{path}: replay file is empty")
    return answers
