"""The one module that imports LiteLLM, and evalkit's retry policy around it.

Every model call goes through :func:`complete`, which calls ``litellm.acompletion`` with
LiteLLM's retries and the OpenAI SDK's retries switched off (they stack: one 429 became
seven requests) and applies evalkit's own policy instead:

* retried: 408, 429, 500, 502, 503, 504, 529, timeouts and connection errors;
* ``Retry-After`` is honoured; otherwise exponential back-off with jitter;
* capped by ``max_attempts`` and by ``max_retry_time_s`` of total time per request;
* never retried: other 4xx (401/403 stop the model: see the runner), context-window errors.

Failures come back as :class:`~evalkit.types.Completion` with an ``error`` (data, not
exceptions). LiteLLM is imported lazily: ``evalkit --help`` and ``evalkit validate`` never
pay its import time.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from evalkit.limiter import AdaptiveLimiter
from evalkit.redact import redact
from evalkit.types import Completion, ErrorInfo, ErrorKind, Request

PLACEHOLDER_KEY = "sk-evalkit-no-key"
"""Sent to self-hosted OpenAI-compatible servers (llama.cpp, vLLM...) that need no key but whose SDK wants one."""

_litellm: ModuleType | None = None


def litellm_module() -> ModuleType:
    """Import and configure LiteLLM once: local price map, no telemetry, no callbacks, quiet."""
    global _litellm
    if _litellm is None:
        os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
        os.environ.setdefault("LITELLM_LOG", "ERROR")
        import litellm

        litellm.telemetry = False
        litellm.suppress_debug_info = True
        litellm.set_verbose = False
        litellm.drop_params = False
        litellm.callbacks = []
        litellm.success_callback = []
        litellm.failure_callback = []
        _litellm = litellm
    return _litellm


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    timeout_s: float = 120.0
    """Per attempt."""
    max_retry_time_s: float = 300.0
    """Total time budget for one request including back-off."""
    base_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


@dataclass(frozen=True)
class Pricing:
    """USD per million tokens; overrides LiteLLM's price map."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        if input_tokens is None or output_tokens is None:
            return None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


def missing_credentials(model: str, *, api_base: str | None, api_key_env: str | None) -> str | None:
    """Why ``model`` cannot run with this environment's credentials, or ``None`` if it can.

    An explicit ``api_key_env`` must be set. Otherwise LiteLLM says which variables the
    provider needs; a model with its own ``api_base`` (a self-hosted server) runs without.
    """
    if api_key_env:
        return None if os.environ.get(api_key_env) else f"set {api_key_env} to run this model"
    if api_base:
        return None
    info = litellm_module().validate_environment(model=model)
    missing = [k for k in info.get("missing_keys", []) if k]
    if info.get("keys_in_environment") or not missing:
        return None
    return f"set {' or '.join(missing)} to run this model"


def api_key_for(api_base: str | None, api_key_env: str | None) -> str | None:
    if api_key_env:
        return os.environ.get(api_key_env)
    return PLACEHOLDER_KEY if api_base else None  # None: LiteLLM reads the provider's usual variable


async def complete(
    request: Request,
    *,
    policy: RetryPolicy,
    api_key: str | None = None,
    pricing: Pricing | None = None,
    call_model: str | None = None,
    call_base: str | None = None,
    limiter: AdaptiveLimiter | None = None,
) -> Completion:
    """Send ``request`` (retrying per ``policy``) and return what came back, errors included.

    ``call_model``/``call_base`` override what is called without changing the request's
    identity (the embedded model is ``local/<alias>`` in the cache key but ``openai/<alias>``
    on a port that changes between runs).
    """
    litellm = litellm_module()
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        if limiter is not None:
            await limiter.acquire()
        throttled = False
        error: ErrorInfo | None = None
        retry_after: float | None = None
        t0 = time.monotonic()
        try:
            response = await litellm.acompletion(
                model=call_model or request.model,
                messages=list(request.messages),
                api_base=call_base or request.api_base,
                api_key=api_key,
                timeout=policy.timeout_s,
                num_retries=0,
                max_retries=0,
                **request.params,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error, retry_after = classify(exc)
            throttled = error.kind == ErrorKind.RATE_LIMIT
        finally:
            if limiter is not None:
                limiter.release(throttled=throttled)
        if error is not None:
            elapsed = time.monotonic() - started
            if is_retryable(error):
                wait = retry_after if retry_after is not None else _backoff(attempt, policy)
                if attempt < policy.max_attempts and elapsed + wait < policy.max_retry_time_s:
                    await asyncio.sleep(wait)
                    continue
            return Completion(text=None, attempts=attempt, error=error)
        latency = time.monotonic() - t0
        return _to_completion(response, latency=latency, attempts=attempt, pricing=pricing, litellm=litellm)


def is_retryable(error: ErrorInfo) -> bool:
    """408, 429, any 5xx, timeouts and connection errors; never other 4xx or a context-window error."""
    if error.kind in (ErrorKind.TIMEOUT, ErrorKind.CONNECTION):
        return True
    if error.kind == ErrorKind.CONTEXT_WINDOW or error.status is None:
        return False
    return error.status in (408, 429) or 500 <= error.status < 600


def _backoff(attempt: int, policy: RetryPolicy) -> float:
    raw = min(policy.max_backoff_s, policy.base_backoff_s * (2 ** (attempt - 1)))
    return raw * (0.5 + random.random() / 2)


def _to_completion(
    response: Any, *, latency: float, attempts: int, pricing: Pricing | None, litellm: ModuleType
) -> Completion:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return Completion(
            text=None,
            latency_s=latency,
            attempts=attempts,
            error=ErrorInfo(ErrorKind.BAD_RESPONSE, "the response had no choices"),
        )
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    finish = getattr(choice, "finish_reason", None)
    in_tok, out_tok = _usage(response)
    if pricing is not None:
        cost = pricing.cost(in_tok, out_tok)
    elif in_tok is None:
        cost = None  # no usage reported: LiteLLM would price its made-up zeros as $0
    else:
        try:
            cost = float(litellm.completion_cost(completion_response=response))
        except Exception:
            cost = None  # no price known for this model: unknown, never 0
    if finish == "content_filter" and not text:
        return Completion(
            text=None,
            finish_reason=finish,
            input_tokens=in_tok,
            output_tokens=out_tok,
            cost_usd=cost,
            latency_s=latency,
            attempts=attempts,
            error=ErrorInfo(ErrorKind.CONTENT_FILTER, "the provider's content filter blocked the answer"),
        )
    return Completion(
        text=text,
        finish_reason=finish,
        input_tokens=in_tok,
        output_tokens=out_tok,
        cost_usd=cost,
        latency_s=latency,
        attempts=attempts,
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
    headers: Any = getattr(exc, "litellm_response_headers", None)
    if not headers:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        ms = headers.get("retry-after-ms")
        try:
            return float(ms) / 1000 if ms is not None else None
        except ValueError:
            return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own back-off
