"""A fake LLM provider on 127.0.0.1, for offline tests and smoke runs.

It is a real HTTP server (aiohttp) that answers like OpenAI's chat completions and
Anthropic's messages APIs, can be scripted to misbehave, and counts what it received::

    from evalkit.testserver import Rule, TestServer

    with TestServer(latency=0.05) as srv:
        srv.add_rule(Rule(contains="boom", status=429, headers={"Retry-After": "2"}, times=1))
        litellm.acompletion(model="openai/any", api_base=srv.openai_base, api_key="k", ...)
        litellm.acompletion(model="anthropic/any", api_base=srv.anthropic_base, api_key="k", ...)
        srv.stats.max_in_flight

Which ``api_base`` to give LiteLLM (checked against litellm 1.106.2):

- ``openai/NAME``: ``srv.openai_base`` = ``srv.url + "/v1"``; LiteLLM posts to
  ``/v1/chat/completions``. The ``openai`` SDK takes the same value as ``base_url``.
- ``anthropic/NAME``: ``srv.anthropic_base`` = ``srv.url`` (no ``/v1``): LiteLLM appends
  ``/v1/messages`` unless the base already ends with it. ``srv.url + "/v1"`` would make it
  post to ``/v1/v1/messages``, which is served too. The ``anthropic`` SDK takes ``srv.url``.

Any POST path ending in ``chat/completions`` is the OpenAI API, any ending in ``messages``
is the Anthropic API, whatever the prefix.

Answers. The first :class:`Rule` that matches (and has ``times`` left) decides the
answer; otherwise the reply is ``responder(model, messages)`` when given, else the reply
of the first ``answers`` key found in the last user message, else ``"ok"``. The
responder sees OpenAI-style messages with string contents (an Anthropic ``system`` is
prepended as a system message).

Usage is deterministic: ``prompt_tokens`` is the number of whitespace-separated words
in all message contents (system included), ``completion_tokens`` that of the reply.

Streaming: a request with ``"stream": true`` that no error rule answers gets the same completion
as server-sent events, one word a chunk (OpenAI ``chat.completion.chunk`` objects ending in
``data: [DONE]``, with a last usage chunk only when ``stream_options.include_usage`` is set;
Anthropic's ``message_start`` … ``message_stop`` events). The latency comes before the first
chunk; :attr:`Rule.chunk_delay` spaces the rest.

Server-wide options: ``require_key`` answers 401 unless ``Authorization: Bearer KEY`` is
sent (for Anthropic ``x-api-key: KEY`` works too: LiteLLM sends that, the anthropic SDK
2.x sends Bearer); ``rate_limit_per_minute`` admits that many requests per rolling 60 s
(``rate_limit_window_s`` shortens the window, for benchmarks: the limit then counts per that
many seconds) and answers 429 with ``Retry-After`` (whole seconds until a slot frees, at
least 1) beyond it, and ``retry-after-ms`` (the exact wait, as OpenAI and Azure send it) unless
``retry_after_ms=False``. Both are checked before the rules, and answered at once.

Control endpoints, for a server in another process: ``GET /_evalkit/stats`` (the
:class:`Stats` as JSON), ``POST /_evalkit/reset`` (:meth:`TestServer.reset_stats`),
``POST /_evalkit/script`` with ``{"rules": [{...Rule fields...}], "clear": false}``.

Command line: ``python -m evalkit.testserver --port 8000 [--latency 0.2] [--answers
FILE.jsonl] [--require-key KEY] [--rate-limit N [--rate-window S] [--no-retry-after-ms]]`` (port 0 picks a free one) prints the
URL as its first stdout line and serves until SIGINT/SIGTERM.
The answers file has one ``{"contains": "...", "reply": "..."}`` object per line.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import math
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

__all__ = ["Responder", "Rule", "Stats", "TestServer", "main"]

Api = Literal["openai", "anthropic"]
Responder = Callable[[str, list[dict[str, Any]]], str]
"""``(model, messages) -> reply text`` for requests no rule answers."""

KEEP_LAST = 1000
"""How many request bodies and header sets :class:`Stats` keeps."""
RATE_WINDOW_S = 60.0
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


@dataclass(frozen=True)
class Stats:
    """A snapshot of what the server received. Control requests are not counted."""

    total: int
    """Requests that reached a chat/messages endpoint, errors included."""
    by_model: dict[str, int]
    by_status: dict[int, int]
    """Statuses sent; dropped and hung requests have none."""
    in_flight: int
    max_in_flight: int
    max_in_flight_by_model: dict[str, int]
    bodies: list[Any]
    """The last :data:`KEEP_LAST` request bodies as parsed JSON (the text if not JSON)."""
    headers: list[dict[str, str]]
    """The last :data:`KEEP_LAST` request headers, raw."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (status keys become strings)."""
        return asdict(self)


@dataclass
class _Exchange:
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
        return sum(_words(m["content"]) for m in self.messages)


class _Counters:
    """The mutable side of :class:`Stats`, behind a lock (read from other threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._in_flight_total = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_model: dict[str, int] = {}
            self._by_status: dict[int, int] = {}
            self._max = self._in_flight_total
            self._max_by_model = {m: n for m, n in self._in_flight.items() if n}
            self._bodies: deque[Any] = deque(maxlen=KEEP_LAST)
            self._headers: deque[dict[str, str]] = deque(maxlen=KEEP_LAST)

    def arrive(self, model: str, body: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self._total += 1
            self._by_model[model] = self._by_model.get(model, 0) + 1
            self._bodies.append(body)
            self._headers.append(headers)
            now = self._in_flight[model] = self._in_flight.get(model, 0) + 1
            self._max_by_model[model] = max(self._max_by_model.get(model, 0), now)
            self._in_flight_total += 1
            self._max = max(self._max, self._in_flight_total)

    def leave(self, model: str, status: int | None) -> None:
        with self._lock:
            self._in_flight[model] -= 1
            self._in_flight_total -= 1
            if status is not None:
                self._by_status[status] = self._by_status.get(status, 0) + 1

    def snapshot(self) -> Stats:
        with self._lock:
            return Stats(
                total=self._total,
                by_model=dict(self._by_model),
                by_status=dict(self._by_status),
                in_flight=self._in_flight_total,
                max_in_flight=self._max,
                max_in_flight_by_model=dict(self._max_by_model),
                bodies=list(self._bodies),
                headers=list(self._headers),
            )


class _RateWindow:
    """Admits ``limit`` requests per rolling ``window_s`` (default :data:`RATE_WINDOW_S`)."""

    def __init__(self, limit: int | None, window_s: float = RATE_WINDOW_S) -> None:
        self._limit = limit
        self._window = window_s
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()

    def admit(self) -> float | None:
        """``None`` when admitted, else the seconds until a slot frees."""
        if self._limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._admitted and self._admitted[0] <= now - self._window:
                self._admitted.popleft()
            if len(self._admitted) < self._limit:
                self._admitted.append(now)
                return None
            return max(0.001, self._admitted[0] + self._window - now)

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()


@dataclass
class _Scripted:
    rule: Rule
    used: int = 0


class _Rulebook:
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

    def pick(self, ex: _Exchange) -> Rule | None:
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


class TestServer:
    """The fake provider. ``start()`` serves from a background thread with its own loop."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        latency: float = 0.0,
        responder: Responder | None = None,
        *,
        answers: Mapping[str, str] | None = None,
        require_key: str | None = None,
        rate_limit_per_minute: int | None = None,
        rate_limit_window_s: float = RATE_WINDOW_S,
        retry_after_ms: bool = True,
        port: int = 0,
    ) -> None:
        self.latency = latency
        self.responder = responder
        self.answers = dict(answers or {})
        self.require_key = require_key
        self._port = port
        self._counters = _Counters()
        self._rules = _Rulebook()
        self._rate = _RateWindow(rate_limit_per_minute, rate_limit_window_s)
        self.retry_after_ms = retry_after_ms
        """Send ``retry-after-ms`` (the exact wait) with the whole-second ``Retry-After`` of a rate-limit 429."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        from evalkit.testserver_batch import BatchEmulator  # the batch endpoints (their own module)

        self.batch = BatchEmulator(self)
        """OpenAI Batch and Anthropic Message Batches endpoints: controls and stats (evalkit.testserver_batch)."""

    # -- the Python API -------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._thread is None:
            raise RuntimeError("TestServer is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_base(self) -> str:
        """The ``api_base`` for LiteLLM ``openai/`` models (and the openai SDK's ``base_url``)."""
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        """The ``api_base`` for LiteLLM ``anthropic/`` models (it appends ``/v1/messages``)."""
        return self.url

    @property
    def stats(self) -> Stats:
        """A consistent snapshot, safe to read from any thread."""
        return self._counters.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters, forget bodies, headers and the rate-limit window. Rules stay."""
        self._counters.reset()
        self._rate.reset()

    def add_rule(self, rule: Rule) -> None:
        """Append a rule; earlier rules are tried first."""
        self._rules.add(rule)

    def clear_rules(self) -> None:
        """Forget every rule (and how often each was used)."""
        self._rules.clear()

    def start(self) -> TestServer:
        """Bind 127.0.0.1 (a free port unless one was given) and serve in a thread."""
        if self._thread is not None:
            raise RuntimeError("TestServer is already started")
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        thread = threading.Thread(
            target=self._serve, args=(loop, ready), name="evalkit-testserver", daemon=True
        )
        thread.start()
        try:
            self._port = ready.result(timeout=30)
        except BaseException:
            thread.join()
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Answer nothing more, end hung requests, and join the thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop = self._thread = None

    def __enter__(self) -> TestServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the server's thread ----------------------------------------------------------

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[int]) -> None:
        asyncio.set_event_loop(loop)
        try:
            ready.set_result(loop.run_until_complete(self._open()))
        except Exception as e:
            ready.set_exception(e)
            loop.close()
            return
        loop.run_forever()
        loop.close()

    async def _open(self) -> int:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/_evalkit/stats", self._get_stats)
        app.router.add_post("/_evalkit/reset", self._post_reset)
        app.router.add_post("/_evalkit/script", self._post_script)
        self.batch.mount(app)
        app.router.add_get("/{prefix:(?:.*/)?}models", self._get_models)
        app.router.add_post("/{prefix:(?:.*/)?}chat/completions", self._chat("openai"))
        app.router.add_post("/{prefix:(?:.*/)?}messages", self._chat("anthropic"))
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024)
        await site.start()
        sockets = self._runner.addresses
        return int(sockets[0][1])

    async def _close(self) -> None:
        assert self._closing is not None and self._runner is not None
        self._closing.set()
        await self._runner.cleanup()

    # -- control endpoints ----------------------------------------------------------

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.to_dict())

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset_stats()
        return web.json_response({"ok": True})

    async def _post_script(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("rules", []), list):
                raise TypeError('expected {"rules": [{...}, ...], "clear": false}')
            rules = [Rule.from_dict(r) for r in body.get("rules", [])]
        except (ValueError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        if body.get("clear"):
            self.clear_rules()
        for rule in rules:
            self.add_rule(rule)
        return web.json_response({"ok": True, "added": len(rules)})

    async def _get_models(self, request: web.Request) -> web.Response:
        names = sorted({"evalkit-test", *self.stats.by_model} - {""})
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "evalkit"} for n in names]
        return web.json_response({"object": "list", "data": data})

    # -- chat endpoints -------------------------------------------------------------

    def _chat(self, api: Api) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(api, request)

        return handle

    async def _handle(self, api: Api, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        try:
            body: Any = json.loads(text)
            ex = _parse(api, body)
        except (ValueError, TypeError, AttributeError, KeyError):
            body, ex = text, None
        model = ex.model if ex else ""
        self._counters.arrive(model, body, dict(request.headers))
        try:
            resp = await self._answer(api, ex, request)
        except BaseException:  # the client went away (cancelled) or the server is stopping
            self._counters.leave(model, None)
            raise
        # Counted as sent just before aiohttp writes it (no await in between), so a client
        # that has its answer always sees it in the stats.
        self._counters.leave(model, resp.status if resp is not None else None)
        return resp if resp is not None else web.Response()

    async def _answer(
        self, api: Api, ex: _Exchange | None, request: web.Request
    ) -> web.StreamResponse | None:
        """The response to send, or ``None`` when the connection was dropped."""
        if ex is None:
            return _error(api, 400, "request body is not a valid chat request")
        if self.require_key is not None and self.require_key not in _presented_keys(api, request):
            return _error(api, 401, "invalid api key")
        wait = self._rate.admit()
        if wait is not None:
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            if self.retry_after_ms:
                headers["retry-after-ms"] = str(math.ceil(wait * 1000))
            return _error(api, 429, "rate limit exceeded", headers=headers)
        rule = self._rules.pick(ex)
        if rule is not None and rule.hang:
            assert self._closing is not None
            await self._closing.wait()
        else:
            delay = rule.latency if rule is not None and rule.latency is not None else self.latency
            if delay > 0:
                await asyncio.sleep(delay)
        if rule is not None and (rule.hang or rule.drop_connection):
            assert request.transport is not None
            request.transport.abort()
            return None
        if ex.stream and (rule is None or (rule.status is None and rule.raw_body is None)):
            return await self._stream(ex, rule or Rule(), request)
        return self._respond(ex, rule)

    async def _stream(self, ex: _Exchange, rule: Rule, request: web.Request) -> web.StreamResponse:
        """The completion as server-sent events in the API's streaming shape, one word a chunk."""
        reply = rule.reply if rule.reply is not None else self._default_reply(ex)
        body = _completion(ex, reply, rule)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", **rule.headers})
        await resp.prepare(request)
        for i, event in enumerate(_stream_events(ex, body)):
            if i and rule.chunk_delay:
                await asyncio.sleep(rule.chunk_delay)
            await resp.write(event.encode())
        await resp.write_eof()
        return resp

    def _respond(self, ex: _Exchange, rule: Rule | None) -> web.Response:
        if rule is None:
            return web.json_response(_completion(ex, self._default_reply(ex), Rule()))
        if rule.raw_body is not None:
            headers = {"Content-Type": rule.content_type, **rule.headers}
            return web.Response(body=rule.raw_body.encode(), status=rule.status or 200, headers=headers)
        if rule.status is not None:
            return _error(ex.api, rule.status, rule.reply, rule.error_code, rule.headers, ex.prompt_tokens)
        reply = rule.reply if rule.reply is not None else self._default_reply(ex)
        return web.json_response(_completion(ex, reply, rule), headers=rule.headers)

    def _default_reply(self, ex: _Exchange) -> str:
        if self.responder is not None:
            return self.responder(ex.model, ex.messages)
        last = ex.last_user
        return next((reply for key, reply in self.answers.items() if key in last), "ok")


# -- request parsing and response bodies ------------------------------------------


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _flatten(content: Any) -> str:
    """A message content (string, or a list of text parts/blocks) as one string."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))


def _parse(api: Api, body: dict[str, Any]) -> _Exchange:
    messages = [{**m, "content": _flatten(m.get("content"))} for m in body["messages"]]
    if api == "anthropic" and body.get("system"):
        messages.insert(0, {"role": "system", "content": _flatten(body["system"])})
    options = body.get("stream_options")
    return _Exchange(
        api=api,
        model=str(body.get("model", "")),
        messages=messages,
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )


def _presented_keys(api: Api, request: web.Request) -> set[str]:
    """The API keys a request carries: ``Authorization: Bearer``, and ``x-api-key`` for Anthropic."""
    auth = request.headers.get("Authorization", "")
    keys = {auth.removeprefix("Bearer ")} if auth.startswith("Bearer ") else set()
    if api == "anthropic" and "x-api-key" in request.headers:
        keys.add(request.headers["x-api-key"])
    return keys


def _completion(ex: _Exchange, reply: str, rule: Rule) -> dict[str, Any]:
    """A successful body in the request's API shape, as the rule bends it."""
    content = None if rule.content_null or (rule.refusal is not None and rule.reply is None) else reply
    completion_tokens = 0 if rule.no_choices else _words(content)
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


def _stream_events(ex: _Exchange, body: dict[str, Any]) -> list[str]:
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
        for piece in _pieces(text):
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
        pieces = _pieces(content) or [""]
        for i, piece in enumerate(pieces):
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            chunks.append(head | {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        chunks.append(
            head | {"choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]}
        )
    if ex.include_usage and usage is not None:
        chunks.append(head | {"choices": [], "usage": usage})
    return [f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"]


def _pieces(text: str) -> list[str]:
    """``text`` in chunks of one word each (with its following space), as a model streams it."""
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]] if text else []


def _error(
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


# -- command line -----------------------------------------------------------------


def _load_answers(path: Path) -> dict[str, str]:
    """Read ``{"contains": ..., "reply": ...}`` lines into the answers mapping."""
    answers: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers[str(row["contains"])] = str(row["reply"])
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit(f'{path}:{n}: expected {{"contains": ..., "reply": ...}} ({e})') from e
    return answers


def main(argv: list[str] | None = None) -> int:
    """``python -m evalkit.testserver``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m evalkit.testserver", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--answers", type=Path, help="JSONL of {contains, reply}")
    parser.add_argument("--require-key", help="answer 401 unless this API key is sent")
    parser.add_argument("--rate-limit", type=int, help="requests admitted per rolling minute")
    parser.add_argument(
        "--rate-window",
        type=float,
        default=RATE_WINDOW_S,
        help="seconds of the rate-limit window (default 60)",
    )
    parser.add_argument(
        "--no-retry-after-ms",
        action="store_true",
        help="answer a rate-limit 429 with the whole-second Retry-After only",
    )
    args = parser.parse_args(argv)
    server = TestServer(
        latency=args.latency,
        answers=_load_answers(args.answers) if args.answers else None,
        require_key=args.require_key,
        rate_limit_per_minute=args.rate_limit,
        rate_limit_window_s=args.rate_window,
        retry_after_ms=not args.no_retry_after_ms,
        port=args.port,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with server:
        print(server.url, flush=True)
        print(
            f"openai/ api_base {server.openai_base}, anthropic/ api_base {server.anthropic_base}",
            file=sys.stderr,
        )
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
