"""The emulated batches as data, and how each provider shows them: the controls, one :class:`Batch`,
OpenAI's batch object and result files, Anthropic's message-batch object."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from evalkit.testing.rules import Api

__all__ = [
    "Batch",
    "BatchControls",
    "anthropic_batch_object",
    "iso",
    "openai_batch_object",
    "openai_result_lines",
]


@dataclass
class BatchControls:
    """How the emulated batches behave (see the module docstring)."""

    complete_after_s: float = 0.0
    expire_contains: dict[str, int] = field(default_factory=dict)
    expire_batches: int = 0
    max_requests: int | None = None
    max_bytes: int | None = None

    def update(self, d: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown batch control(s): {', '.join(sorted(unknown))}")
        for k, v in d.items():
            setattr(self, k, v)


@dataclass
class Batch:
    """One emulated batch and, once it ended, its results."""

    id: str
    api: Api
    lines: list[dict[str, Any]]
    """OpenAI: the input file's request lines; Anthropic: the ``requests``."""
    created: float
    input_file_id: str | None = None
    expire_all: bool = False
    ended: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: Counter[str] = field(default_factory=Counter)


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def openai_batch_object(b: Batch) -> dict[str, Any]:
    """The batch as OpenAI's ``GET /v1/batches/{id}`` shows it."""
    status = "in_progress"
    if b.ended is not None:
        status = "expired" if b.expire_all else "completed"
    failed = b.counts["errored"] + b.counts["expired"]
    return {
        "id": b.id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "errors": None,
        "input_file_id": b.input_file_id,
        "completion_window": "24h",
        "status": status,
        "output_file_id": b.output_file_id,
        "error_file_id": b.error_file_id,
        "created_at": int(b.created),
        "in_progress_at": int(b.created),
        "expires_at": int(b.created) + 86400,
        "completed_at": int(b.ended) if b.ended and not b.expire_all else None,
        "expired_at": int(b.ended) if b.ended and b.expire_all else None,
        "request_counts": {
            "total": len(b.lines),
            "completed": b.counts["succeeded"],
            "failed": failed,
        },
        "metadata": None,
    }


def openai_result_lines(b: Batch) -> tuple[list[str], list[str]]:
    """The output file's lines (answered 200) and the error file's (failed or expired), as OpenAI writes them."""
    out: list[str] = []
    err: list[str] = []
    for r in b.results:
        rid = f"batch_req_{uuid.uuid4().hex[:24]}"
        if r["status"] is None:
            err.append(
                json.dumps(
                    {
                        "id": rid,
                        "custom_id": r["custom_id"],
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "This request could not be executed before the completion "
                            "window expired.",
                        },
                    }
                )
            )
            continue
        line = json.dumps(
            {
                "id": rid,
                "custom_id": r["custom_id"],
                "response": {"status_code": r["status"], "request_id": rid, "body": r["body"]},
                "error": None,
            }
        )
        (out if r["status"] == 200 else err).append(line)
    return out, err


def anthropic_batch_object(b: Batch, origin: str) -> dict[str, Any]:
    """The batch as Anthropic's ``GET /v1/messages/batches/{id}`` shows it."""
    ended = b.ended is not None
    processing = 0 if ended else len(b.lines)
    return {
        "id": b.id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": {
            "processing": processing,
            "succeeded": b.counts["succeeded"],
            "errored": b.counts["errored"],
            "canceled": 0,
            "expired": b.counts["expired"],
        },
        "ended_at": iso(b.ended),
        "created_at": iso(b.created),
        "expires_at": iso(b.created + 86400),
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{origin}/v1/messages/batches/{b.id}/results" if ended else None,
    }
