"""The nouns of a batch: one request line, one submitted job, and what came back for a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.types import Completion

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
