"""``batches.json`` in the run folder: every batch job, written atomically before it is polled.

A job is recorded (``submitting``, with its custom_id -> cell mapping) before the provider is
asked, and again (``submitted``, with the provider's batch id) the moment the provider answers,
so a crash during polling resumes the polling instead of paying twice. The only window left is
the one HTTP round-trip of the create call itself: a job still ``submitting`` on resume is
submitted again (docs/scaling-batch.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalkit._util.io import atomic_open
from evalkit.errors import RunDirError

__all__ = ["STATE_NAME", "BatchJob", "BatchState"]

STATE_NAME = "batches.json"
FORMAT = 1

JobStatus = Literal["submitting", "submitted", "done"]


@dataclass
class BatchJob:
    """One batch at one provider, as recorded in ``batches.json``."""

    job: str
    """evalkit's own id of the job (``<model>-<n>``), known before the provider's."""
    provider: str
    model: str
    """The model's display name in the suite."""
    attempt: int
    """1 for a first submission, 2 for the resubmission of expired or failed requests."""
    requests: dict[str, dict[str, Any]]
    """custom_id -> {"sample_id", "sample_index", "epoch", "key"}."""
    status: JobStatus = "submitting"
    batch_id: str | None = None
    input_file_id: str | None = None
    provider_status: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    submitted_at: float | None = None
    ended_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "provider": self.provider,
            "model": self.model,
            "attempt": self.attempt,
            "status": self.status,
            "batch_id": self.batch_id,
            "input_file_id": self.input_file_id,
            "provider_status": self.provider_status,
            "counts": self.counts,
            "submitted_at": self.submitted_at,
            "ended_at": self.ended_at,
            "requests": self.requests,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BatchJob:
        return cls(
            job=str(d["job"]),
            provider=str(d["provider"]),
            model=str(d["model"]),
            attempt=int(d["attempt"]),
            requests=dict(d["requests"]),
            status=d.get("status", "submitting"),
            batch_id=d.get("batch_id"),
            input_file_id=d.get("input_file_id"),
            provider_status=d.get("provider_status"),
            counts=dict(d.get("counts") or {}),
            submitted_at=d.get("submitted_at"),
            ended_at=d.get("ended_at"),
        )


class BatchState:
    """The jobs of one run folder; :meth:`save` replaces the file atomically."""

    def __init__(self, path: Path, jobs: list[BatchJob] | None = None) -> None:
        self.path = path
        self.jobs: list[BatchJob] = jobs or []

    @classmethod
    def load(cls, run_dir: Path) -> BatchState:
        """The run's state (empty when it has none); a broken file is a :class:`RunDirError`."""
        path = run_dir / STATE_NAME
        if not path.exists():
            return cls(path)
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"expected format {FORMAT}")
            jobs = [BatchJob.from_dict(j) for j in data["jobs"]]
        except (ValueError, KeyError, TypeError) as e:
            raise RunDirError(f"{path}: not a readable batch state ({e})") from None
        return cls(path, jobs)

    def save(self) -> None:
        payload = {"format": FORMAT, "jobs": [j.to_dict() for j in self.jobs]}
        with atomic_open(self.path, fsync=True) as f:
            json.dump(payload, f, ensure_ascii=False, separators=(",", ":"))

    def next_job_name(self, model: str) -> str:
        return f"{model}-{sum(1 for j in self.jobs if j.model == model) + 1}"

    def covered(self, model: str) -> set[tuple[str, int]]:
        """(sample_id, epoch) of every request of ``model`` in any job: never submitted afresh."""
        return {
            (r["sample_id"], int(r["epoch"]))
            for j in self.jobs
            if j.model == model
            for r in j.requests.values()
        }

    def pending(self, model: str) -> list[BatchJob]:
        return [j for j in self.jobs if j.model == model and j.status != "done"]
