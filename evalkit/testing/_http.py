"""The wire: parsing a chat request of either API into an :class:`~evalkit.testing.rules.Exchange`,
and the bodies the server answers with (completions, server-sent events, errors), in OpenAI's and
Anthropic's shapes. Shared by the chat endpoints (:mod:`evalkit.testing.server`) and the batch
endpoints (:mod:`evalkit.testing.batch_api`)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from evalkit.testing.rules import Api, Exchange, Rule, words

__all__ = [
    "CONTEXT_WINDOW",
    "Answering",
    "completion_body",
    "error_response",
    "parse",
    "presented_keys",
    "stream_events",
]

CONTEXT_WINDOW = 4096
"""The context size the scripted ``context_length_exceeded`` errors claim."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}
_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}


class Answering(Protocol):
    """What the batch endpoints need of the server: its key check and its answer to one request."""

    require_key: str | None

    def pick_rule(self, ex: Exchange) -> Rule | None: ...

    def respond(self, ex: Exchange, rule: Rule | None) -> web.Response: ...


def flatten(content: Any) -> str:
    """A message content (string, or a list of text parts/blocks) as one string."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))


def parse(api: Api, body: dict[str, Any]) -> Exchange:
    messages = [{**m, "content": flatten(m.get("content"))} for m in body["messages"]]
    if api == "anthropic" and body.get("system"):
        messages.insert(0, {"role": "system", "content": flatten(body["system"])})
    options = body.get("stream_options")
    return Exchange(
        api=api,
        model=str(body.get("model", "")),
        messages=messages,
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )


def presented_keys(api: Api, request: web.Request) -> set[str]:
    """The API keys a request carries: ``Authorization: Bearer``, and ``x-api-key`` for Anthropic."""
    auth = request.headers.get("Authorization", "")
    keys = {auth.removeprefix("Bearer ")} if auth.startswith("Bearer ") else set()
    if api == "anthropic" and "x-api-key" in request.headers:
        keys.add(request.headers["x-api-key"])
    return keys


def completion_body(ex: Exchange, reply: str, rule: Rule) -> dict[str, Any]:
    """A successful body in the request's API shape, as the rule bends it."""
    content = None if rule.content_null or (rule.refusal is not None and rule.reply is None) else reply
    completion_tokens = 0 if rule.no_choices else words(content)
    if ex.api == "anthropic":
        blocks = [] if content is None or rule.no_choices else [{"type": "text", "text": content}]
        stop = "refusal" if rule.refusal is not None else _ANTHROPIC_STOP.get(rule.finish_reason or "stop")
        body: dict[str, Any] = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": ex.model,
            "content": blocks,
            "stop_reason": stop or rule.finish_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": ex.prompt_tokens, "output_tokens": completion_tokens},
        }
    else:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if rule.refusal is not None:
            message["refusal"] = rule.refusal
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": rule.finish_reason or "stop",
            "logprobs": None,
        }
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": ex.model,
            "choices": [] if rule.no_choices else [choice],
            "usage": {
                "prompt_tokens": ex.prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": ex.prompt_tokens + completion_tokens,
            },
        }
    if rule.omit_usage:
        del body["usage"]
    return body


def stream_events(ex: Exchange, body: dict[str, Any]) -> list[str]:
    """A completion body cut into server-sent events: OpenAI ``chat.completion.chunk`` objects (usage
    in a last chunk only when ``include_usage`` was asked), or Anthropic's message events."""
    usage = body.get("usage")
    if ex.api == "anthropic":
        text = "".join(b.get("text", "") for b in body["content"])
        start = {k: v for k, v in body.items() if k not in ("content", "stop_reason", "usage")}
        start |= {"content": [], "stop_reason": None}
        if usage is not None:
            start["usage"] = {"input_tokens": usage["input_tokens"], "output_tokens": 0}
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start})
        ]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for piece in split_words(text):
            delta = {"type": "text_delta", "text": piece}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        end: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": body["stop_reason"]}}
        if usage is not None:
            end["usage"] = {"output_tokens": usage["output_tokens"]}
        events += [("message_delta", end), ("message_stop", {"type": "message_stop"})]
        return [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
    head = {
        "id": body["id"],
        "object": "chat.completion.chunk",
        "created": body["created"],
        "model": ex.model,
    }
    chunks: list[dict[str, Any]] = []
    for choice in body["choices"]:
        content = choice["message"].get("content") or ""
        pieces = split_words(content) or [""]
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            chunks.append(head | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        chunks.append(
            head | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
        )
    if ex.include_usage and usage is not None:
        chunks.append(head | {"choices": [], "usage": usage})
    return [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]


def split_words(text: str) -> list[str]:
    """``text`` in chunks of one word each (with its following space), as a model streams it."""
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]] if text else []


def error_response(
    api: Api,
    status: int,
    message: str | None = None,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    prompt_tokens: int = 0,
) -> web.Response:
    """An error response in the API's shape."""
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    if code == "context_length_exceeded":
        message = (
            f"prompt is too long: {prompt_tokens + CONTEXT_WINDOW} tokens > {CONTEXT_WINDOW} maximum"
            if api == "anthropic"
            else f"This model's maximum context length is {CONTEXT_WINDOW} tokens. However, your messages "
            f"resulted in {prompt_tokens + CONTEXT_WINDOW} tokens. Please reduce the length of the messages."
        )
    message = message or f"evalkit testserver: scripted {status}"
    if api == "anthropic":
        body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    else:
        openai_code = code or _OPENAI_CODES.get(status)
        body = {"error": {"message": message, "type": kind, "param": None, "code": openai_code}}
    return web.json_response(body, status=status, headers=dict(headers or {}))
