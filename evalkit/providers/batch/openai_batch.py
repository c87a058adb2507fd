"""OpenAI's Batch API through the official ``openai`` SDK: upload a JSONL file, create a batch on
``/v1/chat/completions``, poll it, read its output and error files.

The client is built with ``base_url`` = the model's ``api_base`` (else the SDK's default) and the
key from the model's key variable (else ``$OPENAI_API_KEY``, read by the SDK); the key is never
written anywhere. SDK retries are off: a failed control call is retried by :mod:`evalkit.run.batch`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from evalkit.economics import ApiPrice
from evalkit.providers.batch.results import as_int, bad_body, error_result, expired_result, success_result
from evalkit.providers.batch.types import BatchLine, LineResult, Poll

__all__ = ["OpenAIBatches"]

ENDED = {"completed", "failed", "expired", "cancelled"}


class OpenAIBatches:
    provider = "openai"
    overhead = 0
    """Bytes a batch adds besides its lines (the input file is just the lines)."""

    def __init__(self, *, api_key: str | None, api_base: str | None, timeout_s: float = 120.0) -> None:
        import openai

        self._client = openai.OpenAI(api_key=api_key, base_url=api_base, max_retries=0, timeout=timeout_s)

    @staticmethod
    def wire(custom_id: str, body: dict[str, Any]) -> bytes:
        line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
        return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def submit(self, job: str, lines: list[BatchLine], on_file: Callable[[str], None]) -> str:
        """Upload the lines and create the batch; ``on_file(file_id)`` runs between the two."""
        content = b"".join(self.wire(x.custom_id, x.body) for x in lines)
        uploaded = self._client.files.create(file=(f"{job}.jsonl", content), purpose="batch")
        on_file(uploaded.id)
        batch = self._client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"evalkit_job": job},
        )
        return batch.id

    def poll(self, batch_id: str) -> Poll:
        b = self._client.batches.retrieve(batch_id)
        rc = b.request_counts
        counts = {"total": rc.total, "completed": rc.completed, "failed": rc.failed} if rc else {}
        return Poll(ended=b.status in ENDED, status=b.status, counts=counts)

    def results(self, batch_id: str, pricing: ApiPrice | None) -> Iterator[LineResult]:
        b = self._client.batches.retrieve(batch_id)
        for file_id in (b.output_file_id, b.error_file_id):
            if not file_id:
                continue
            for raw in self._client.files.content(file_id).text.splitlines():
                if raw.strip():
                    yield parse_line(json.loads(raw), pricing)


def parse_line(row: dict[str, Any], pricing: ApiPrice | None) -> LineResult:
    """One line of an output or error file."""
    cid = str(row.get("custom_id"))
    response = row.get("response") or {}
    err = row.get("error")
    if not response and isinstance(err, dict):
        if err.get("code") in ("batch_expired", "batch_cancelled"):
            return expired_result(cid, str(err.get("message") or err.get("code")))
        return error_result(cid, None, str(err.get("message")), err.get("code"))
    status = as_int(response.get("status_code"))
    body = response.get("body")
    if status != 200:
        e = body.get("error") if isinstance(body, dict) else None
        text = str(e.get("message")) if isinstance(e, dict) else str(body)[:500]
        return error_result(cid, status, text, e.get("code") if isinstance(e, dict) else None)
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not choices or not isinstance(choices[0], dict):
        return bad_body(cid, body)
    message: dict[str, Any] = choices[0].get("message") or {}
    usage: dict[str, Any] = body.get("usage") or {}
    return success_result(
        cid,
        text=message.get("content"),
        finish_reason=choices[0].get("finish_reason"),
        input_tokens=as_int(usage.get("prompt_tokens")),
        output_tokens=as_int(usage.get("completion_tokens")),
        pricing=pricing,
    )
