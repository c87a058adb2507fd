"""evalkit's retry policy around one attempt, written once: :func:`complete` is the function every
model call goes through.

* retried: 408, 429, 500, 502, 503, 504, 529, timeouts and connection errors;
* ``Retry-After`` is honoured; otherwise exponential back-off with jitter;
* capped by ``max_attempts`` and by ``max_retry_time_s`` of total time per request; a 429 the
  provider paces (a wait of at most ``PACED_WAIT_MAX_S``: the limiter's gate closes for it) is
  waited out without using up an attempt, so a rate limit delays a sample but never loses it
  (``max_retry_time_s`` still bounds it);
* never retried: other 4xx (401/403 stop the model: see the run package), context-window errors.

LiteLLM's and the OpenAI SDK's own retries are off (:mod:`evalkit.providers.litellm`): they stack.
Failures come back as :class:`~evalkit.types.Completion` with an ``error`` (data, not exceptions).
Each attempt is run by a :data:`~evalkit.providers.litellm.Send` (in this process, in a worker process
of :mod:`evalkit.providers.pool`, or routed to a replica by :mod:`evalkit.providers.replicas`); the
policy, the limiter and the back-off stay here whatever runs it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, replace

from evalkit.economics import ApiPrice
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.providers.litellm import Attempt, Call, Send, attempt
from evalkit.types import Completion, ErrorInfo, ErrorKind, Request

__all__ = ["PACED_WAIT_MAX_S", "RetryPolicy", "complete", "is_retryable"]


PACED_WAIT_MAX_S = 60.0
"""The longest Retry-After a rate-limit 429 may ask for and still be paced (waited out without
using up an attempt; the limiter closes the model's gate for it): a longer one is a quota."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    timeout_s: float = 120.0
    """Per attempt."""
    max_retry_time_s: float = 300.0
    """Total time budget for one request including back-off."""
    base_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


async def complete(
    request: Request,
    *,
    policy: RetryPolicy,
    api_key: str | None = None,
    pricing: ApiPrice | None = None,
    call_model: str | None = None,
    call_base: str | None = None,
    limiter: AdaptiveLimiter | None = None,
    send: Send | None = None,
) -> Completion:
    """Send ``request`` (retrying per ``policy``) and return what came back, errors included.

    ``call_model``/``call_base`` override what is called without changing the request's
    identity (the embedded model is ``local/<alias>`` in the cache key but ``openai/<alias>``
    on a port that changes between runs). ``send`` runs each attempt (default: :func:`attempt`,
    in this process); the policy, the limiter and the back-off stay here whatever runs it.
    """
    call = Call(
        model=call_model or request.model,
        messages=request.messages,
        params=request.params,
        api_base=call_base or request.api_base,
        api_key=api_key,
        timeout_s=policy.timeout_s,
        pricing=pricing,
    )
    run = send or attempt
    started = time.monotonic()
    tries = 0
    paced = 0  # 429s with a wait the provider set: they do not use up an attempt
    while True:
        tries += 1
        ticket = await limiter.acquire() if limiter is not None else 0
        outcome: Attempt | None = None
        try:
            outcome = await run(call)
        finally:
            if limiter is not None:
                throttled = outcome is not None and _is_rate_limit(outcome.error)
                limiter.release(
                    throttled=throttled, retry_after=outcome.retry_after if outcome else None, ticket=ticket
                )
        assert outcome is not None
        error = outcome.error
        if error is None:
            assert outcome.completion is not None
            return replace(outcome.completion, attempts=tries)
        elapsed = time.monotonic() - started
        if is_retryable(error):
            wait = outcome.retry_after if outcome.retry_after is not None else _backoff(tries, policy)
            if _is_rate_limit(error) and outcome.retry_after is not None and 0 < wait <= PACED_WAIT_MAX_S:
                paced += 1
            if tries - paced < policy.max_attempts and elapsed + wait < policy.max_retry_time_s:
                await asyncio.sleep(wait)
                continue
        return Completion(text=None, attempts=tries, error=error)


def _is_rate_limit(error: ErrorInfo | None) -> bool:
    return error is not None and error.kind == ErrorKind.RATE_LIMIT


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
