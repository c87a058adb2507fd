"""The provider seam: error classification and the retry decision, as tables.

Behaviour over real HTTP (retry counts, Retry-After timing, 401 stops) is in
tests/test_run_http.py against evalkit's test server.
"""

from __future__ import annotations

import httpx
import pytest

from evalkit.economics import ApiPrice
from evalkit.providers.credentials import missing_credentials
from evalkit.providers.litellm import classify, litellm_module
from evalkit.providers.retry import is_retryable
from evalkit.types import ErrorInfo, ErrorKind

litellm = litellm_module()


def _resp(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, request=httpx.Request("POST", "http://127.0.0.1/v1"))


def _exc(name: str, status: int, headers: dict[str, str] | None = None) -> Exception:
    cls = getattr(litellm, name)
    kwargs = {"message": "boom", "llm_provider": "openai", "model": "gpt-x"}
    if name in ("Timeout", "APIConnectionError"):
        return cls(**kwargs)
    return cls(response=_resp(status, headers), **kwargs)


@pytest.mark.parametrize(
    ("name", "status", "kind", "retry"),
    [
        ("RateLimitError", 429, ErrorKind.RATE_LIMIT, True),
        ("InternalServerError", 500, ErrorKind.SERVER, True),
        ("BadGatewayError", 502, ErrorKind.SERVER, True),
        ("ServiceUnavailableError", 503, ErrorKind.SERVER, True),
        ("Timeout", 408, ErrorKind.TIMEOUT, True),
        ("APIConnectionError", 500, ErrorKind.CONNECTION, True),
        ("AuthenticationError", 401, ErrorKind.AUTH, False),
        ("PermissionDeniedError", 403, ErrorKind.AUTH, False),
        ("BadRequestError", 400, ErrorKind.BAD_REQUEST, False),
        ("NotFoundError", 404, ErrorKind.BAD_REQUEST, False),
        ("UnprocessableEntityError", 422, ErrorKind.BAD_REQUEST, False),
        ("ContextWindowExceededError", 400, ErrorKind.CONTEXT_WINDOW, False),
        ("ContentPolicyViolationError", 400, ErrorKind.CONTENT_FILTER, False),
    ],
)
def test_classification_and_retry_decision(name: str, status: int, kind: ErrorKind, retry: bool):
    error, _ = classify(_exc(name, status))
    assert error.kind == kind
    assert is_retryable(error) is retry


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "2", "retry-after-ms": "1234"}, 1.234),  # the precise one wins
        ({"retry-after": "2", "retry-after-ms": "later"}, 2.0),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_is_read(headers: dict[str, str], seconds: float | None):
    _, retry_after = classify(_exc("RateLimitError", 429, headers))
    assert retry_after == seconds


def test_529_overloaded_is_retried():
    assert is_retryable(ErrorInfo(ErrorKind.SERVER, "overloaded", 529))


def test_error_messages_are_redacted(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-0123456789abcdef")
    exc = litellm.AuthenticationError(
        message="bad key sk-canary-0123456789abcdef", llm_provider="openai", model="m"
    )
    error, _ = classify(exc)
    assert "sk-canary" not in error.message


@pytest.mark.parametrize(
    ("model", "api_base", "key_env", "env", "expected"),
    [
        ("openai/gpt-4o-mini", None, None, {}, "set OPENAI_API_KEY to run this model"),
        ("openai/gpt-4o-mini", None, None, {"OPENAI_API_KEY": "k"}, None),
        ("anthropic/claude-haiku-4-5", None, None, {}, "set ANTHROPIC_API_KEY to run this model"),
        ("groq/llama-3.3-70b-versatile", None, None, {}, "set GROQ_API_KEY to run this model"),
        ("openai/local-llama", "http://127.0.0.1:8080/v1", None, {}, None),
        ("openai/x", "http://127.0.0.1:8080/v1", "MY_KEY", {}, "set MY_KEY to run this model"),
        ("openai/x", "http://127.0.0.1:8080/v1", "MY_KEY", {"MY_KEY": "v"}, None),
    ],
)
def test_missing_credentials(monkeypatch, model, api_base, key_env, env, expected):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert missing_credentials(model, api_base=api_base, api_key_env=key_env) == expected


@pytest.mark.parametrize(
    ("tokens", "cost"),
    [((1_000_000, 0), 0.15), ((0, 1_000_000), 0.6), ((1000, 100), 0.00021), ((None, 5), None)],
)
def test_suite_prices(tokens, cost):
    got = ApiPrice(0.15, 0.6).cost(*tokens)
    assert got == (pytest.approx(cost) if cost is not None else None)
