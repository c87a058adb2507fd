"""What the test server can be told to do: the parsed request it matches on (:class:`Exchange`) and
the scripted :class:`Rule` s, tried in order (:class:`Rulebook`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = ["Api", "Exchange", "Responder", "Rule", "Rulebook"]

Api = Literal["openai", "anthropic"]
Responder = Callable[[str, list[dict[str, Any]]], str]
"""``(model, messages) -> reply text`` for requests no rule answers."""


@dataclass
class Rule:
    """A scripted answer: what it matches, how many times, and what it does.

    Effects are applied in this order: ``drop_connection``, ``hang``, ``raw_body``,
    ``status`` (an error), else a completion shaped by the remaining fields.
    """

    model: str | None = None
    """Match: exactly the request's ``model`` field (``"gpt-x"`` for ``openai/gpt-x``)."""
    contains: str | None = None
    """Match: a substring of the last user message."""
    api: Api | None = None
    """Match: only this API."""
    times: int | None = None
    """Apply to the first N matching requests only, then fall through."""
    reply: str | None = None
    """The completion text (the error message when ``status`` is set)."""
    status: int | None = None
    """Answer this error status with a provider-shaped JSON error body."""
    error_code: str | None = None
    """OpenAI ``error.code``; ``"context_length_exceeded"`` also uses each provider's real message."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"Retry-After": "2"}``."""
    latency: float | None = None
    """Seconds before answering, instead of the server's latency."""
    raw_body: str | None = None
    """Send exactly this body (with ``status``, default 200), e.g. an HTML error page."""
    content_type: str = "text/html"
    """The Content-Type of ``raw_body``."""
    content_null: bool = False
    """OpenAI ``message.content = null``; Anthropic ``content = []``."""
    no_choices: bool = False
    """OpenAI ``choices = []``; Anthropic ``content = []``."""
    finish_reason: str | None = None
    """e.g. ``"length"``, ``"content_filter"`` (mapped to Anthropic's ``stop_reason``)."""
    omit_usage: bool = False
    """Leave ``usage`` out of the body."""
    hang: bool = False
    """Never answer; the request ends when the client disconnects (or the server stops)."""
    drop_connection: bool = False
    """Close the socket without sending a response."""
    refusal: str | None = None
    """OpenAI ``message.refusal``; ``content`` is then ``reply`` (null unless given)."""
    chunk_delay: float | None = None
    """Streamed requests (``stream: true``): seconds between chunks (default 0); ``latency`` comes before the first."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Rule:
        """Build a rule from JSON, rejecting unknown keys."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown rule field(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def matches(self, api: Api, model: str, last_user: str) -> bool:
        """Whether this rule applies to a request (ignoring ``times``)."""
        return (
            (self.api is None or self.api == api)
            and (self.model is None or self.model == model)
            and (self.contains is None or self.contains in last_user)
        )


@dataclass
class Exchange:
    """One parsed chat request."""

    api: Api
    model: str
    messages: list[dict[str, Any]]
    """OpenAI-style, string contents, Anthropic ``system`` prepended."""
    stream: bool = False
    """``"stream": true``: answered as server-sent events."""
    include_usage: bool = False
    """OpenAI ``stream_options.include_usage``: a last chunk carries the usage."""

    @property
    def last_user(self) -> str:
        users = [m["content"] for m in self.messages if m.get("role") == "user"]
        return users[-1] if users else ""

    @property
    def prompt_tokens(self) -> int:
        return sum(words(m["content"]) for m in self.messages)


@dataclass
class _Scripted:
    rule: Rule
    used: int = 0


class Rulebook:
    """The scripted rules and how often each has been used."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Scripted] = []

    def add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(_Scripted(rule))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pick(self, ex: Exchange) -> Rule | None:
        """The first matching rule with uses left, counting this use."""
        with self._lock:
            for entry in self._rules:
                rule = entry.rule
                if (rule.times is None or entry.used < rule.times) and rule.matches(
                    ex.api, ex.model, ex.last_user
                ):
                    entry.used += 1
                    return rule
        return None


def words(text: str | None) -> int:
    """Whitespace-separated words: the server's deterministic token count."""
    return len(text.split()) if text else 0
