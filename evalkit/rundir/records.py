"""The parts of a run's manifest, as typed records: which suite and data, each scorer and each model as
recorded, and the error policy. Read out of ``run.json`` by :mod:`evalkit.rundir.manifest` only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["DatasetRecord", "ErrorPolicy", "ModelEntry", "ScorerEntry", "SuiteRecord"]


class ErrorPolicy(StrEnum):
    """How an errored cell enters the means and the pairing (the suite's ``errors:``)."""

    COUNT_AS_WRONG = "count_as_wrong"
    EXCLUDE = "exclude"


@dataclass(frozen=True, slots=True)
class SuiteRecord:
    """``suite``: which suite file, at which version, with which hashes."""

    name: str
    version: str | None
    path: str | None
    hash: str | None
    task_hash: str | None
    """Equal task hashes mean comparable tasks (same data mapping, prompt, scorers, epochs)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": self.path,
            "hash": self.hash,
            "task_hash": self.task_hash,
        }


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """``dataset``: the data file and its fingerprint."""

    path: str | None
    sha256: str | None
    n_samples: int | None
    n_used: int | None
    format: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "n_samples": self.n_samples,
            "n_used": self.n_used,
            "format": self.format,
        }


@dataclass(frozen=True, slots=True)
class ScorerEntry:
    """One ``scorers[]`` entry: the report column (``key``), the family and its arguments."""

    key: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One ``models[]`` entry: the model as this run called it, and how it went."""

    name: str
    model: str | None
    group: str | None
    api_base: Any
    params: dict[str, Any]
    status: str | None
    status_reason: str | None
    price: dict[str, Any] | None
    """The suite's ``price:`` for it (USD per million tokens)."""
    price_map_recorded: bool
    """Whether the run looked its price up in LiteLLM's map (``price_map`` present, maybe null)."""
    price_map: dict[str, Any] | None
    replay: dict[str, Any] | None
    """For a replayed model: the source's path, kind, sha256 and counts."""
    counts: dict[str, Any]
    concurrency: Any
    raw: Mapping[str, Any]
    """The entry as recorded (for the report's model table and for merging)."""
