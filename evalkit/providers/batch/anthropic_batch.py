"""Anthropic's Message Batches through the official ``anthropic`` SDK: create a batch of
``{custom_id, params}``, poll it until ``ended``, stream its JSONL results.

``base_url`` is the model's ``api_base`` without a trailing ``/v1`` or ``/v1/messages`` (LiteLLM
accepts those, the SDK adds its own), else the SDK's default; the key comes from the model's key
variable (else ``$ANTHROPIC_API_KEY``, read by the SDK) and is never written. SDK retries are off.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from evalkit.economics import ApiPrice
from evalkit.providers.batch.results import as_int, bad_body, error_result, expired_result, success_result
from evalkit.providers.batch.types import BatchLine, LineResult, Poll

__all__ = ["AnthropicBatches"]

_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "refusal": "content_filter"}
"""Anthropic ``stop_reason`` -> the finish_reason LiteLLM reports on the live path."""
_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def sdk_base(api_base: str | None) -> str | None:
    if not api_base:
        return None
    base = api_base.rstrip("/")
    for suffix in ("/v1/messages", "/v1"):
        base = base.removesuffix(suffix)
    return base


class AnthropicBatches:
    provider = "anthropic"
    overhead = len(b'{"requests":[]}')

    def __init__(self, *, api_key: str | None, api_base: str | None, timeout_s: float = 120.0) -> None:
        import anthropic

        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=sdk_base(api_base), max_retries=0, timeout=timeout_s
        )

    @staticmethod
    def wire(custom_id: str, body: dict[str, Any]) -> bytes:
        return (json.dumps({"custom_id": custom_id, "params": body}, separators=(",", ":")) + ",").encode()

    def submit(self, job: str, lines: list[BatchLine], on_file: Callable[[str], None]) -> str:
        requests: Any = [{"custom_id": x.custom_id, "params": x.body} for x in lines]
        return self._client.messages.batches.create(requests=requests).id

    def poll(self, batch_id: str) -> Poll:
        b = self._client.messages.batches.retrieve(batch_id)
        return Poll(
            ended=b.processing_status == "ended",
            status=b.processing_status,
            counts=b.request_counts.model_dump(),
        )

    def results(self, batch_id: str, pricing: ApiPrice | None) -> Iterator[LineResult]:
        for row in self._client.messages.batches.results(batch_id):
            yield parse_line(row.model_dump(), pricing)


def parse_line(row: dict[str, Any], pricing: ApiPrice | None) -> LineResult:
    """One line of a batch's results."""
    cid = str(row.get("custom_id"))
    result = row.get("result") or {}
    kind = result.get("type")
    if kind in ("expired", "canceled"):
        return expired_result(cid, f"the request {kind} before the provider ran it")
    if kind == "errored":
        outer: dict[str, Any] = result.get("error") or {}
        inner: dict[str, Any] = outer["error"] if isinstance(outer.get("error"), dict) else outer
        etype = str(inner.get("type"))
        return error_result(cid, _STATUS.get(etype), f"{etype}: {inner.get('message')}")
    message = result.get("message") if kind == "succeeded" else None
    if not isinstance(message, dict):
        return bad_body(cid, row)
    blocks = message.get("content") or []
    texts = [b.get("text") or "" for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    usage = message.get("usage") or {}
    stop = message.get("stop_reason")
    return success_result(
        cid,
        text="".join(texts) if texts else None,
        finish_reason=_STOP.get(stop, stop) if isinstance(stop, str) else None,
        input_tokens=as_int(usage.get("input_tokens")),
        output_tokens=as_int(usage.get("output_tokens")),
        pricing=pricing,
    )
