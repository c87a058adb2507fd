"""The nouns every stage passes along.

A run is models x samples x epochs. Each cell is sent once as a :class:`Request`,
comes back as a :class:`Completion` (an answer or a recorded error, never an
exception), is judged by every scorer into a :class:`Score`, and is written to the
ledger as one :class:`Result`. Everything here is frozen and JSON-friendly so the
ledger line is just ``Result.to_dict()``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Group(StrEnum):
    """Which side of the migration a model is on."""

    CLOSED = "closed"
    OPEN = "open"


class ErrorKind(StrEnum):
    """Why a request produced no usable completion. Recorded as data, counted in reports."""

    AUTH = "auth"  # 401/403: the model's remaining requests are not sent
    RATE_LIMIT = "rate_limit"  # 429 after the retry budget ran out
    SERVER = "server"  # 5xx after the retry budget ran out
    TIMEOUT = "timeout"  # the request (or its retry budget) timed out
    CONNECTION = "connection"  # refused, reset, DNS
    BAD_REQUEST = "bad_request"  # other 4xx: not retried
    CONTEXT_WINDOW = "context_window"  # the prompt does not fit the model
    CONTENT_FILTER = "content_filter"  # the provider refused to answer at all
    BAD_RESPONSE = "bad_response"  # 200 with a body that is not a completion
    REPLAY_MISSING = "replay_missing"  # a replayed model has no recorded answer for this cell
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Sample:
    """One example of the user's data."""

    id: str
    """Unique within the dataset; the key results are joined on."""
    input: str
    """The main input text (what the report shows as the example)."""
    expected: Any
    """The reference answer (label, object, ...). Never visible to the prompt template."""
    fields: dict[str, Any]
    """Every other field of the row, visible to the template and to scorers (e.g. ``should_refuse``, ``schema``)."""
    tags: dict[str, str] = field(default_factory=dict)
    """Slice tags (e.g. ``{"type": "homonyms"}``) used to break results down."""
    line: int = 0
    """1-based line (or row) number in the source file, for error messages."""


@dataclass(frozen=True, slots=True)
class Request:
    """Exactly what is sent for one cell; its canonical JSON is the cache key."""

    model: str
    """The LiteLLM model string, after resolution (e.g. ``openai/smollm2`` for an embedded model)."""
    messages: tuple[dict[str, str], ...]
    params: dict[str, Any]
    """Every request parameter (temperature, max_tokens, seed, response_format...)."""
    api_base: str | None = None
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failed request, as data."""

    kind: ErrorKind
    message: str
    """Human-readable, already redacted of secrets."""
    status: int | None = None
    """HTTP status when there was one."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call the model asked for, as LiteLLM normalises it (OpenAI ``tool_calls``, Anthropic ``tool_use``)."""

    name: str
    arguments: str
    """The arguments exactly as the model returned them (JSON text; may be invalid JSON)."""
    id: str | None = None


def _tool_call_of(d: dict[str, Any]) -> ToolCall:
    """A ledger call back as a :class:`ToolCall`; ``arguments`` that are not text become JSON text."""
    args = d.get("arguments", "")
    if not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    call_id = d.get("id")
    return ToolCall(str(d.get("name", "")), args, None if call_id is None else str(call_id))


@dataclass(frozen=True, slots=True)
class Completion:
    """What came back for one request (or the error that stood in its place)."""

    text: str | None
    """The assistant's text; ``None`` when there was none (error, null content)."""
    finish_reason: str | None = None
    input_tokens: int | None = None
    """``None`` when the provider did not say (unknown, not zero)."""
    output_tokens: int | None = None
    cost_usd: float | None = None
    """``None`` when no price is known for the model: unknown, never 0."""
    latency_s: float | None = None
    """Wall time of the successful attempt (not counting back-off)."""
    attempts: int = 1
    cached: bool = False
    """True when served from the response cache (no network call, no cost this run)."""
    error: ErrorInfo | None = None
    ttft_s: float | None = None
    """Time to the first streamed content token (``stream: true`` only); left out of the ledger line when None."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The function calls the model asked for, in its order; left out of the ledger line when empty."""
    via: str | None = None
    """``batch`` when the answer came through a provider's batch API; left out of the ledger line when None."""
    batch_id: str | None = None
    """The provider's batch id (``via: batch`` only)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for optional in ("ttft_s", "via", "batch_id"):  # older lines have no such keys
            if d[optional] is None:
                del d[optional]
        if self.tool_calls:
            d["tool_calls"] = [
                {"name": c.name, "arguments": c.arguments, "id": c.id} for c in self.tool_calls
            ]
        else:
            del d["tool_calls"]
        if self.error is not None:
            d["error"] = {
                "kind": str(self.error.kind),
                "message": self.error.message,
                "status": self.error.status,
            }
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Completion:
        err = d.get("error")
        error = ErrorInfo(ErrorKind(err["kind"]), err["message"], err.get("status")) if err else None
        return cls(
            text=d.get("text"),
            finish_reason=d.get("finish_reason"),
            input_tokens=d.get("input_tokens"),
            output_tokens=d.get("output_tokens"),
            cost_usd=d.get("cost_usd"),
            latency_s=d.get("latency_s"),
            attempts=d.get("attempts", 1),
            cached=d.get("cached", False),
            error=error,
            ttft_s=d.get("ttft_s"),
            tool_calls=tuple(_tool_call_of(c) for c in (d.get("tool_calls") or ()) if isinstance(c, dict)),
            via=d.get("via"),
            batch_id=d.get("batch_id"),
        )


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's verdict on one completion. Every verdict explains itself."""

    value: float
    """1.0 pass / 0.0 fail for pass-fail scorers; a fraction for graded ones."""
    answer: str | None
    """What the scorer read from the output (the extracted label, the parsed JSON...)."""
    explanation: str
    """Why: enough to understand the verdict in the report without a re-run."""
    label: str | None = None
    """The verdict's class where the scorer has classes (e.g. ``schema_violation``, ``full_refusal``)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Small JSON-serialisable facts the verdict read, for summaries to count without parsing
    ``explanation`` (e.g. ``{"should_refuse": True, "refused": True}``, ``{"lenient": True,
    "mismatched": ["unit"]}``, ``{"predicted_label": "card_arrival"}``). Each scorer documents its
    keys; empty for scorers that have none. Left out of the ledger line when empty."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "value": self.value,
            "answer": self.answer,
            "explanation": self.explanation,
            "label": self.label,
        }
        if self.meta:
            d["meta"] = self.meta
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Score:
        """Read a ledger verdict; lines written before ``meta`` existed load with an empty one."""
        meta = d.get("meta")
        return cls(
            d["value"],
            d.get("answer"),
            d.get("explanation", ""),
            d.get("label"),
            dict(meta) if isinstance(meta, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class Result:
    """One ledger line: a model's completion for one sample and epoch, with its scores."""

    sample_id: str
    model: str
    """The model's display name from the suite."""
    epoch: int
    completion: Completion
    scores: dict[str, Score]
    """Scorer name -> verdict. Empty when the completion is an error (errors are counted, not scored)."""
    request_key: str
    """sha256 of the canonical request: the cache key."""
    input: str = ""
    """The sample's input, kept so the report can be rebuilt from the run folder alone."""
    expected: Any = None
    tags: dict[str, str] = field(default_factory=dict)
    at: float = 0.0
    """Unix time the result landed."""

    @property
    def cell(self) -> tuple[str, str, int]:
        """The identity of a cell of the run: (sample, model, epoch)."""
        return (self.sample_id, self.model, self.epoch)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "model": self.model,
            "epoch": self.epoch,
            "request_key": self.request_key,
            "input": self.input,
            "expected": self.expected,
            "tags": self.tags,
            "completion": self.completion.to_dict(),
            "scores": {k: v.to_dict() for k, v in self.scores.items()},
            "at": self.at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        return cls(
            sample_id=d["sample_id"],
            model=d["model"],
            epoch=d.get("epoch", 0),
            completion=Completion.from_dict(d["completion"]),
            scores={k: Score.from_dict(v) for k, v in (d.get("scores") or {}).items()},
            request_key=d.get("request_key", ""),
            input=d.get("input", ""),
            expected=d.get("expected"),
            tags=d.get("tags") or {},
            at=d.get("at", 0.0),
        )
