"""What came back for one batch line, as the :class:`~evalkit.types.Completion` the live path records.

Errors are classified as :func:`evalkit.providers.classify` classifies a live HTTP error (401/403
auth, 408 timeout, 429 rate limit, 5xx server, other 4xx bad request, context-window messages), and
a line is worth one resubmission when the live path would have retried it
(:func:`evalkit.providers.is_retryable`): expired, 408, 429, 5xx. Costs use the batch price.
"""

from __future__ import annotations

from typing import Any

from evalkit._util.redact import redact
from evalkit.economics import ApiPrice
from evalkit.providers.batch.types import LineResult
from evalkit.providers.retry import is_retryable
from evalkit.types import Completion, ErrorInfo, ErrorKind

__all__ = ["error_result", "expired_result", "success_result"]

_CONTEXT = ("context_length_exceeded", "maximum context length", "prompt is too long")


def _kind(status: int | None, message: str, code: str | None) -> ErrorKind:
    low = f"{code or ''} {message}".lower()
    if any(c in low for c in _CONTEXT):
        return ErrorKind.CONTEXT_WINDOW
    if status in (401, 403):
        return ErrorKind.AUTH
    if status == 408:
        return ErrorKind.TIMEOUT
    if status == 429:
        return ErrorKind.RATE_LIMIT
    if status is not None and status >= 500:
        return ErrorKind.SERVER
    if status is not None and status >= 400:
        return ErrorKind.BAD_REQUEST
    return ErrorKind.UNKNOWN


def error_result(custom_id: str, status: int | None, message: str, code: str | None = None) -> LineResult:
    """A line the provider answered with an error."""
    text = redact(f"batch: HTTP {status}: {message}" if status else f"batch: {message}")[:2000]
    error = ErrorInfo(_kind(status, message, code), text, status)
    return LineResult(custom_id, Completion(text=None, error=error), retryable=is_retryable(error))


def expired_result(custom_id: str, why: str) -> LineResult:
    """A line the provider never ran (expired, cancelled, missing from the results): retryable once."""
    error = ErrorInfo(ErrorKind.TIMEOUT, f"batch: {why}")
    return LineResult(custom_id, Completion(text=None, error=error), retryable=True)


def success_result(
    custom_id: str,
    *,
    text: str | None,
    finish_reason: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    pricing: ApiPrice | None,
) -> LineResult:
    """A line that came back with an answer, priced at the batch price (unknown stays None)."""
    if not input_tokens and not output_tokens:
        input_tokens = output_tokens = None  # no usage is unknown, never free
    cost = pricing.cost(input_tokens, output_tokens) if pricing is not None else None
    error = None
    if finish_reason == "content_filter" and not text:
        error = ErrorInfo(ErrorKind.CONTENT_FILTER, "the provider's content filter blocked the answer")
        text = None
    return LineResult(
        custom_id,
        Completion(
            text=text,
            finish_reason=finish_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            error=error,
        ),
    )


def bad_body(custom_id: str, body: Any) -> LineResult:
    error = ErrorInfo(ErrorKind.BAD_RESPONSE, f"batch: the result is not a completion: {str(body)[:200]}")
    return LineResult(custom_id, Completion(text=None, error=error))


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
