"""The nouns of a batch: one request line, one submitted job, and what came back for a line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from evalkit.types import Completion

JobStatus = Literal["submitting", "submitted", "done"]
"""``submitting``: recorded before the provider was asked (no batch id yet); ``submitted``: the
provider has it (poll it); ``done``: every line is in the ledger or in a later job."""


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One request of a batch: which cell it is, and its body in the provider's wire format."""

    custom_id: str
    sample_index: int
    sample_id: str
    epoch: int
    key: str
    """The cell's cache key (the same as the live request's)."""
    body: dict[str, Any]
    size: int = 0
    """Bytes of the line as uploaded (for the providers' size limits)."""


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


@dataclass(frozen=True, slots=True)
class Poll:
    """A batch's state at the provider."""

    ended: bool
    status: str
    """The provider's own word (``in_progress``, ``completed``, ``expired``, ``ended``...)."""
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class LineResult:
    """What came back for one line: a completion (an answer, or an error as data) and whether the
    error is worth one resubmission (expired, 429, 5xx)."""

    custom_id: str
    completion: Completion
    retryable: bool = False
