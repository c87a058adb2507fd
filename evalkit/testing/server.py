"""A fake LLM provider on 127.0.0.1, for offline tests and smoke runs.

``evalkit.testing`` is for tests, benchmarks and smoke runs only: the product never imports it (the
layering contracts of ``make lint`` check that), and it needs the ``testing`` extra (aiohttp).
``python -m evalkit.testing --port 8000`` serves it from the command line.

It is a real HTTP server (aiohttp) that answers like OpenAI's chat completions and
Anthropic's messages APIs, can be scripted to misbehave, and counts what it received::

    from evalkit.testing.server import Rule, TestServer

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

Command line: ``python -m evalkit.testing --port 8000 [--latency 0.2] [--answers
FILE.jsonl] [--require-key KEY] [--rate-limit N [--rate-window S] [--no-retry-after-ms]]`` (port 0 picks a free one) prints the
URL as its first stdout line and serves until SIGINT/SIGTERM.
The answers file has one ``{"contains": "...", "reply": "..."}`` object per line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from evalkit.testing._http import completion_body, error_response, parse, presented_keys, stream_events
from evalkit.testing.batch_api import BatchEmulator
from evalkit.testing.rules import Api, Exchange, Responder, Rule, Rulebook
from evalkit.testing.stats import RATE_WINDOW_S, Counters, RateWindow, Stats

__all__ = ["Responder", "Rule", "Stats", "TestServer"]


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
        self._counters = Counters()
        self._rules = Rulebook()
        self._rate = RateWindow(rate_limit_per_minute, rate_limit_window_s)
        self.retry_after_ms = retry_after_ms
        """Send ``retry-after-ms`` (the exact wait) with the whole-second ``Retry-After`` of a rate-limit 429."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None

        self.batch = BatchEmulator(self)
        """OpenAI Batch and Anthropic Message Batches endpoints: controls and stats (evalkit.testing.batch_api)."""

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
            ex = parse(api, body)
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

    async def _answer(self, api: Api, ex: Exchange | None, request: web.Request) -> web.StreamResponse | None:
        """The response to send, or ``None`` when the connection was dropped."""
        if ex is None:
            return error_response(api, 400, "request body is not a valid chat request")
        if self.require_key is not None and self.require_key not in presented_keys(api, request):
            return error_response(api, 401, "invalid api key")
        wait = self._rate.admit()
        if wait is not None:
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
            if self.retry_after_ms:
                headers["retry-after-ms"] = str(math.ceil(wait * 1000))
            return error_response(api, 429, "rate limit exceeded", headers=headers)
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
        return self.respond(ex, rule)

    async def _stream(self, ex: Exchange, rule: Rule, request: web.Request) -> web.StreamResponse:
        """The completion as server-sent events in the API's streaming shape, one word a chunk."""
        reply = rule.reply if rule.reply is not None else self._default_reply(ex)
        body = completion_body(ex, reply, rule)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", **rule.headers})
        await resp.prepare(request)
        for i, event in enumerate(stream_events(ex, body)):
            if i and rule.chunk_delay:
                await asyncio.sleep(rule.chunk_delay)
            await resp.write(event.encode())
        await resp.write_eof()
        return resp

    def pick_rule(self, ex: Exchange) -> Rule | None:
        """The first scripted rule that matches ``ex`` and has uses left (counting this use)."""
        return self._rules.pick(ex)

    def respond(self, ex: Exchange, rule: Rule | None) -> web.Response:
        """The non-streamed answer to ``ex`` under ``rule`` (None: the default reply)."""
        if rule is None:
            return web.json_response(completion_body(ex, self._default_reply(ex), Rule()))
        if rule.raw_body is not None:
            headers = {"Content-Type": rule.content_type, **rule.headers}
            return web.Response(body=rule.raw_body.encode(), status=rule.status or 200, headers=headers)
        if rule.status is not None:
            return error_response(
                ex.api, rule.status, rule.reply, rule.error_code, rule.headers, ex.prompt_tokens
            )
        reply = rule.reply if rule.reply is not None else self._default_reply(ex)
        return web.json_response(completion_body(ex, reply, rule), headers=rule.headers)

    def _default_reply(self, ex: Exchange) -> str:
        if self.responder is not None:
            return self.responder(ex.model, ex.messages)
        last = ex.last_user
        return next((reply for key, reply in self.answers.items() if key in last), "ok")
