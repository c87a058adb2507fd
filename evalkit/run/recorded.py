"""Recorded baselines: a model's answers taken from a previous run folder or a JSONL instead of calling it.

A model entry with ``replay:`` takes its answers from a previous run folder or from a JSONL of
``{"id": ..., "output": ..., "epoch": 0}`` rows (production logs, another tool's results), so CI
can re-run only the candidate against a baseline recorded once. Replayed answers are scored
by the same scorers as live ones, are never sent, never cached and cost nothing this run.

A replay is checked when the run starts, before the first request of any model
(:func:`load_replays`):

* a run folder must have been recorded on the same data (dataset sha256) and the same task
  (prompt, scorers, dataset mapping, epochs: the suite's ``task_hash``), else it is refused with
  the reason — its answers would not be comparable. Its answers keep their recorded tokens, cost
  and latency (and recorded errors stay errors), epoch by epoch;
* a JSONL must be valid, with unique ``(id, epoch)`` pairs and every id a sample of the dataset.
  ``epoch`` defaults to 0; a suite with ``epochs > 1`` needs ``epoch`` in the rows (refused
  otherwise).

An example of the run with no recorded answer is not skipped: it becomes a per-sample error of
kind ``replay_missing`` (counted and shown like any failed request). On ``--resume`` the source
must still have the fingerprint (sha256) recorded in run.json.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit._util.io import iter_jsonl
from evalkit.errors import ConfigError, RunDirError
from evalkit.run.recorder import RECORD_CHUNK, Landing, Recorder
from evalkit.rundir.ledger import iter_results
from evalkit.rundir.manifest import Manifest, read_manifest
from evalkit.types import Completion, ErrorInfo, ErrorKind, Sample

__all__ = ["Replay", "load_replay", "load_replays", "write_recorded"]


@dataclass(frozen=True)
class Replay:
    source: Path
    answers: dict[tuple[str, int], Completion]
    kind: str = "jsonl"
    """``run`` (a run folder) or ``jsonl``."""
    sha256: str = ""
    """Fingerprint of the answers: sha256 of the JSONL file, or of the run folder's ``samples.jsonl``."""
    missing: int = 0
    """Cells of this run with no recorded answer (each becomes a ``replay_missing`` error)."""
    recorded: dict[str, Any] = field(default_factory=dict)
    """For a run folder: its run id, the model's name there, its dataset sha256 and task hash."""
    keys: dict[tuple[str, int], str] = field(default_factory=dict)
    """The recorded request keys (run folders only)."""

    def get(self, sample_id: str, epoch: int) -> Completion | None:
        return self.answers.get((sample_id, epoch))

    def answer(self, sample_id: str, epoch: int) -> tuple[Completion, str]:
        """The recorded completion of a cell (or a ``replay_missing`` error) and the request key to record."""
        key = self.keys.get((sample_id, epoch)) or _cell_key(self.sha256, sample_id, epoch)
        got = self.answers.get((sample_id, epoch))
        if got is not None:
            return got, key
        msg = f"no recorded answer for id '{sample_id}', epoch {epoch} in the replay {self.source}"
        return Completion(text=None, cached=True, error=ErrorInfo(ErrorKind.REPLAY_MISSING, msg)), key

    def manifest(self) -> dict[str, Any]:
        """What run.json records under the model's ``replay``."""
        return {
            "path": str(self.source),
            "kind": self.kind,
            "sha256": self.sha256,
            "answers": len(self.answers),
            "missing": self.missing,
            **self.recorded,
        }


def _cell_key(sha: str, sample_id: str, epoch: int) -> str:
    return hashlib.sha256(f"replay\0{sha}\0{sample_id}\0{epoch}".encode()).hexdigest()


def load_replay(
    path: Path,
    *,
    model: str,
    sample_ids: list[str],
    epochs: int,
    dataset_sha256: str,
    task_hash: str,
    where: str,
    known_ids: Iterable[str] | None = None,
) -> Replay:
    """Load and check a replay source for the model named ``model`` (its display name in that run).

    ``sample_ids`` are the examples this run uses (after ``--limit``); ``known_ids`` every id of
    the dataset (default: ``sample_ids``), which a JSONL's ids must belong to."""
    if path.is_dir():
        answers, keys, recorded = _from_run(
            path, model=model, dataset_sha256=dataset_sha256, task_hash=task_hash, where=where
        )
        kind, sha = "run", _sha256(path / "samples.jsonl")
    elif path.is_file():
        answers, keys, recorded = _from_jsonl(path, where=where), {}, {}
        kind, sha = "jsonl", _sha256(path)
        if epochs > 1 and not any(e for _, e in answers):
            raise ConfigError(
                f"{where}: replay {path} has answers for epoch 0 only, but the suite asks {epochs} epochs; "
                "give each row an 'epoch' (0 to epochs-1) or set epochs: 1"
            )
        known = set(sample_ids if known_ids is None else known_ids)
        unknown = sorted({s for s, _ in answers} - known)
        if unknown:
            raise ConfigError(
                f"{where}: {path} has answers for ids that are not in the dataset (first: '{unknown[0]}')"
            )
    else:
        raise ConfigError(f"{where}: replay source not found: {path}")
    wanted = {(s, e) for s in sample_ids for e in range(epochs)}
    missing = len(wanted - set(answers))
    return Replay(
        path,
        {k: v for k, v in answers.items() if k in wanted},
        kind=kind,
        sha256=sha,
        missing=missing,
        recorded=recorded,
        keys={k: v for k, v in keys.items() if k in wanted},
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        return ""
    return h.hexdigest()


def _from_run(
    run_dir: Path, *, model: str, dataset_sha256: str, task_hash: str, where: str
) -> tuple[dict[tuple[str, int], Completion], dict[tuple[str, int], str], dict[str, Any]]:
    try:
        manifest = read_manifest(run_dir)
    except RunDirError as exc:
        raise ConfigError(f"{where}: replay: {exc.message}") from None
    recorded_sha = manifest.dataset.sha256
    if recorded_sha != dataset_sha256:
        raise ConfigError(
            f"{where}: replay {run_dir} was recorded on different data "
            f"(dataset sha256 {str(recorded_sha)[:12]} here {dataset_sha256[:12]})"
        )
    recorded_task = manifest.suite.task_hash
    if recorded_task != task_hash:
        raise ConfigError(
            f"{where}: replay {run_dir} was recorded with a different prompt, scorers or data mapping "
            f"(task hash {str(recorded_task)[:12]} here {task_hash[:12]})"
        )
    names = [m.name for m in manifest.models]
    if model not in names:
        raise ConfigError(
            f"{where}: replay {run_dir} has no model '{model}' (it has: {', '.join(map(str, names))})"
        )
    answers: dict[tuple[str, int], Completion] = {}
    keys: dict[tuple[str, int], str] = {}
    for r in iter_results(run_dir):
        if r.model == model:  # a recorded error is replayed as that error: the baseline as it was
            answers[(r.sample_id, r.epoch)] = replace(r.completion, cached=True)
            keys[(r.sample_id, r.epoch)] = r.request_key
    recorded = {
        "run_id": manifest.run_id,
        "model": model,
        "run_status": manifest.status,
        "dataset_sha256": recorded_sha,
        "task_hash": recorded_task,
    }
    return answers, keys, recorded


def _from_jsonl(path: Path, *, where: str) -> dict[tuple[str, int], Completion]:
    answers: dict[tuple[str, int], Completion] = {}
    for lineno, row in iter_jsonl(path, error=ConfigError, label="replay: "):
        if "id" not in row or not isinstance(row.get("output"), str):
            raise ConfigError(f"{path}:{lineno}: replay rows need 'id' and a string 'output'")
        epoch = row.get("epoch", 0)
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ConfigError(f"{path}:{lineno}: replay: 'epoch' must be a whole number >= 0")
        key = (str(row["id"]), epoch)
        if key in answers:
            raise ConfigError(f"{path}:{lineno}: replay: a second answer for id '{key[0]}', epoch {epoch}")
        answers[key] = Completion(text=row["output"], finish_reason="replay", cached=True)
    if not answers:
        raise ConfigError(f"{path}: replay file is empty")
    return answers


def load_replays(
    sources: dict[int, tuple[str, Path, str]],
    *,
    samples: list[Sample],
    all_samples: list[Sample],
    epochs: int,
    dataset_sha256: str,
    task_hash: str,
    suite_path: Path,
    resumed: Manifest | None = None,
) -> dict[int, Replay]:
    """Load every replayed model's answers (raising :class:`ConfigError` with the reason): called before
    the first request. ``sources``: plan index -> (the model's name, the source, its name there). On
    resume, refuse a source whose fingerprint changed since the run started."""
    ids = [s.id for s in samples]
    known = [s.id for s in all_samples]
    before = {m.name: (m.replay or {}).get("sha256") for m in (resumed.models if resumed else [])}
    out: dict[int, Replay] = {}
    for i, (name, path, recorded_name) in sources.items():
        where = f"{suite_path}: models.{name}.replay"
        replay = load_replay(
            path,
            model=recorded_name,
            sample_ids=ids,
            epochs=epochs,
            dataset_sha256=dataset_sha256,
            task_hash=task_hash,
            where=where,
            known_ids=known,
        )
        old = before.get(name)
        if old and old != replay.sha256:
            raise RunDirError(
                f"{where}: {path} changed since this run started (sha256 {old[:12]}, "
                f"now {replay.sha256[:12]}); start a new run instead of resuming"
            )
        out[i] = replay
    return out


async def write_recorded(
    recorder: Recorder, replays: dict[int, Replay], todo: dict[int, list[bytearray]], samples: list[Sample]
) -> None:
    """Each replayed model's pending cells from its recorded answers: never sent, never cached, no
    budget; a cell without a recorded answer is a ``replay_missing`` error (counted and shown)."""
    for pi, rows in todo.items():
        replay = replays[pi]
        batch: list[Landing] = []
        for epoch, row in enumerate(rows):
            si = row.find(1)
            while si != -1:
                completion, key = replay.answer(samples[si].id, epoch)
                batch.append(Landing(pi, samples[si], epoch, completion, key))
                if len(batch) >= RECORD_CHUNK:
                    await recorder.record_many(batch, source="recorded")
                    batch = []
                si = row.find(1, si + 1)
        if batch:
            await recorder.record_many(batch, source="recorded")
