"""The one module that imports LiteLLM: configured once, called lean, its answers and errors turned into data.

:func:`litellm_module` imports and configures LiteLLM lazily (``evalkit --help`` and ``evalkit
validate`` never pay its import time): local price map, no telemetry, no callbacks, retries off.
One network attempt is :func:`attempt` (a picklable :class:`Call` in, a picklable :class:`Attempt`
out), so the retry policy (:mod:`evalkit.providers.retry`) can run it in this process or hand it to a
worker process (:mod:`evalkit.providers.pool`) unchanged. The cost is the one LiteLLM already computed
for the response (``_hidden_params["response_cost"]``, its documented place) instead of a second
``completion_cost`` per response; when that is absent the model's per-token price is looked up once
per model in LiteLLM's price map (:func:`litellm_price_info`). :func:`classify` maps LiteLLM's and the
SDKs' exceptions to an :class:`~evalkit.types.ErrorInfo` and the server's ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import gc
import importlib
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from evalkit._util.redact import redact
from evalkit.economics import ApiPrice, MapPrice
from evalkit.types import Completion, ErrorInfo, ErrorKind

_litellm: ModuleType | None = None


def litellm_module() -> ModuleType:
    """Import and configure LiteLLM once: local price map, no telemetry, no callbacks, quiet."""
    global _litellm
    if _litellm is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        collecting = gc.isenabled()
        gc.disable()  # the import allocates ~300,000 objects that all live on: collecting meanwhile is waste (~25 %)
        try:
            import litellm

            for module in _LAZY_IMPORTS:  # imported by the first call otherwise (once per worker process)
                with contextlib.suppress(ImportError):
                    importlib.import_module(module)
        finally:
            # Keep what was imported out of every later collection (each full one walked it all),
            # and shared as is by forked workers.
            gc.freeze()
            if collecting:
                gc.enable()
        litellm.telemetry = False
        litellm.turn_off_message_logging = True  # no prompt or answer in any log LiteLLM writes
        litellm.suppress_debug_info = True
        litellm.set_verbose = False
        litellm.drop_params = False
        litellm.callbacks = []
        litellm.success_callback = []
        litellm.failure_callback = []
        _litellm = litellm
    return _litellm


_LAZY_IMPORTS = (
    "openai.resources.chat",
    "litellm._service_logger",
    "litellm.proxy.openai_files_endpoints.common_utils",
)
"""Modules LiteLLM imports on its first OpenAI-compatible call, imported with LiteLLM instead."""


def provider_prefixes() -> list[str]:
    """The installed LiteLLM's provider prefixes, sorted: what :data:`evalkit.config.catalog.KNOWN_PROVIDERS`
    snapshots (a test keeps the two equal)."""
    return sorted({getattr(p, "value", str(p)) for p in litellm_module().provider_list})


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


@dataclass(frozen=True, slots=True)
class Call:
    """One attempt exactly as LiteLLM is called (picklable: the worker pool sends it to another process)."""

    model: str
    """The LiteLLM model string called (``openai/<alias>`` for an embedded model)."""
    messages: tuple[dict[str, str], ...]
    params: dict[str, Any]
    api_base: str | None = None
    api_key: str | None = None
    timeout_s: float = 120.0
    pricing: ApiPrice | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt came back with: a completion (``attempts=1``), or an error and the server's Retry-After."""

    completion: Completion | None = None
    error: ErrorInfo | None = None
    retry_after: float | None = None


Send = Callable[[Call], Awaitable[Attempt]]
"""Runs one attempt: :func:`attempt` in this process, or :meth:`evalkit.providers.pool.WorkerPool.send`."""


def _acompletion_kwargs(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``litellm.acompletion`` for ``call``: LiteLLM's and the SDK's retries off."""
    return {
        "model": call.model,
        "messages": list(call.messages),
        "api_base": call.api_base,
        "api_key": call.api_key,
        "timeout": call.timeout_s,
        "num_retries": 0,
        "max_retries": 0,
        **params,
    }


async def attempt(call: Call) -> Attempt:
    """One ``litellm.acompletion`` call, retries off; failures come back as data."""
    if call.params.get("stream") is True:
        return await attempt_stream(call)
    litellm = litellm_module()
    t0 = time.monotonic()
    try:
        response = await litellm.acompletion(**_acompletion_kwargs(call, call.params))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error, retry_after = classify(exc)
        return Attempt(error=error, retry_after=retry_after)
    latency = time.monotonic() - t0
    return Attempt(completion=_to_completion(response, latency=latency, call=call))


async def attempt_stream(call: Call) -> Attempt:
    """One streamed ``litellm.acompletion`` call (params ``stream: true``), assembled into the same
    :class:`Completion` plus ``ttft_s``: the time from sending to the first chunk with content.

    Usage is asked for with ``stream_options={"include_usage": True}`` (unless the suite set
    ``stream_options``) and read from the chunk that carries it; a provider that sends none leaves
    the tokens and the cost unknown (LiteLLM's own estimate is not used: it counts with the wrong
    tokeniser for most models).
    """
    litellm = litellm_module()
    params = dict(call.params)
    params.setdefault("stream_options", {"include_usage": True})
    t0 = time.monotonic()
    ttft: float | None = None
    parts: list[str] = []
    finish: str | None = None
    in_tok: int | None = None
    out_tok: int | None = None
    try:
        stream = await litellm.acompletion(**_acompletion_kwargs(call, params))
        async for chunk in stream:
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                piece = getattr(delta, "content", None)
                if piece:
                    if ttft is None:
                        ttft = time.monotonic() - t0
                    parts.append(piece)
                finish = getattr(choice, "finish_reason", None) or finish
            got_in, got_out = _usage(chunk)
            if got_in is not None or got_out is not None:
                in_tok, out_tok = got_in, got_out
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error, retry_after = classify(exc)
        return Attempt(error=error, retry_after=retry_after)
    latency = time.monotonic() - t0
    if in_tok is None or out_tok is None:
        cost = None
    elif call.pricing is not None:
        cost = call.pricing.cost(in_tok, out_tok)
    else:
        price = model_price(call.model)
        cost = price.cost(in_tok, out_tok) if price is not None else None
    text = "".join(parts) if parts else None
    blocked = None
    if finish == "content_filter" and not text:
        blocked = ErrorInfo(ErrorKind.CONTENT_FILTER, "the provider's content filter blocked the answer")
    completion = Completion(
        text=text,
        finish_reason=finish,
        input_tokens=in_tok,
        output_tokens=out_tok,
        cost_usd=cost,
        latency_s=latency,
        error=blocked,
        ttft_s=ttft,
    )
    return Attempt(completion=completion)


def _to_completion(response: Any, *, latency: float, call: Call) -> Completion:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return Completion(
            text=None,
            latency_s=latency,
            error=ErrorInfo(ErrorKind.BAD_RESPONSE, "the response had no choices"),
        )
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    finish = getattr(choice, "finish_reason", None)
    in_tok, out_tok = _usage(response)
    cost = _cost(response, call, in_tok, out_tok)
    if finish == "content_filter" and not text:
        return Completion(
            text=None,
            finish_reason=finish,
            input_tokens=in_tok,
            output_tokens=out_tok,
            cost_usd=cost,
            latency_s=latency,
            error=ErrorInfo(ErrorKind.CONTENT_FILTER, "the provider's content filter blocked the answer"),
        )
    return Completion(
        text=text,
        finish_reason=finish,
        input_tokens=in_tok,
        output_tokens=out_tok,
        cost_usd=cost,
        latency_s=latency,
    )


def _cost(response: Any, call: Call, in_tok: int | None, out_tok: int | None) -> float | None:
    """The request's cost in USD, or None when unknown (never a made-up 0).

    A suite price wins. No usage reported: unknown (LiteLLM would price its made-up zeros as $0).
    Otherwise the cost LiteLLM already computed for this response while returning it (the same
    figure ``completion_cost`` gives, at no further cost); failing that, the model's per-token
    price from LiteLLM's map, looked up once per model.
    """
    if call.pricing is not None:
        return call.pricing.cost(in_tok, out_tok)
    if in_tok is None or out_tok is None:
        return None
    hidden = getattr(response, "_hidden_params", None)
    known = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(known, int | float) and not isinstance(known, bool) and math.isfinite(known):
        return float(known)
    price = model_price(call.model)
    return price.cost(in_tok, out_tok) if price is not None else None


@functools.lru_cache(maxsize=256)
def model_price(model: str) -> ApiPrice | None:
    """LiteLLM's per-token price of ``model`` (its map's flat rates), or None when its map has none."""
    found = litellm_price_info(model)
    if found is None:
        return None
    return ApiPrice(
        found.input_per_mtok, found.output_per_mtok, found.cached_input_per_mtok, "LiteLLM price map"
    )


def litellm_price_info(model: str) -> MapPrice | None:
    """``model``'s entry in LiteLLM's local price map, per million tokens (batch and cached-input
    rates when it has them), or None when the map has no price for it."""
    try:
        info = litellm_module().get_model_info(model)
    except Exception:
        return None

    def per_m(key: str) -> float | None:
        v = info.get(key)
        return float(v) * 1e6 if isinstance(v, int | float) and not isinstance(v, bool) else None

    per_in, per_out = per_m("input_cost_per_token"), per_m("output_cost_per_token")
    if per_in is None or per_out is None:
        return None
    return MapPrice(
        per_in,
        per_out,
        cached_input_per_mtok=per_m("cache_read_input_token_cost"),
        batch_input_per_mtok=per_m("input_cost_per_token_batches"),
        batch_output_per_mtok=per_m("output_cost_per_token_batches"),
    )


def _usage(response: Any) -> tuple[int | None, int | None]:
    """(input, output) tokens, or (None, None) when the provider sent no usage.

    LiteLLM fills a missing ``usage`` with zeros for OpenAI-compatible servers; no real prompt
    has zero tokens, so an all-zero usage is taken as *unknown*, never as free.
    """
    usage = getattr(response, "usage", None)
    if usage is None:
        return None, None
    in_tok = getattr(usage, "prompt_tokens", None)
    out_tok = getattr(usage, "completion_tokens", None)
    if not in_tok and not out_tok:
        return None, None
    return in_tok, out_tok


_BAD_BODY = (
    "Empty or invalid response",
    "Unable to get json response",
    "Invalid response object",
    "KeyError",
    "'usage'",
    "'choices'",
    "'content'",
)


def classify(exc: BaseException) -> tuple[ErrorInfo, float | None]:
    """Map a LiteLLM/SDK exception to an :class:`ErrorInfo` and the server's Retry-After (seconds), if any."""
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    name = type(exc).__name__
    message = redact(f"{name}: {getattr(exc, 'message', None) or exc}")[:2000]
    if name in ("APIConnectionError", "InternalServerError") and any(b in message for b in _BAD_BODY):
        kind, status = ErrorKind.BAD_RESPONSE, None  # a 200 whose body is not a completion: not retried
    elif name == "ContextWindowExceededError":
        kind = ErrorKind.CONTEXT_WINDOW
    elif name == "ContentPolicyViolationError":
        kind = ErrorKind.CONTENT_FILTER
    elif name in ("Timeout", "APITimeoutError") or status == 408:
        kind = ErrorKind.TIMEOUT
    elif name == "APIConnectionError" and status in (None, 500):
        kind, status = ErrorKind.CONNECTION, None
    elif status in (401, 403):
        kind = ErrorKind.AUTH
    elif status == 429:
        kind = ErrorKind.RATE_LIMIT
    elif status is not None and status >= 500:
        kind = ErrorKind.SERVER
    elif status is not None and 400 <= status < 500:
        kind = ErrorKind.BAD_REQUEST
    else:
        kind = ErrorKind.UNKNOWN
    return ErrorInfo(kind, message, status), _retry_after(exc)


def _retry_after(exc: BaseException) -> float | None:
    """The server's wait, in seconds: ``retry-after-ms`` first (OpenAI and Azure send it; the openai
    SDK reads it first too), else ``Retry-After`` (seconds, or an HTTP date)."""
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if not headers:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass  # unreadable: try Retry-After
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own back-off
