"""A 429 with Retry-After closes the model's gate until then; the test server's short rate window."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from evalkit.providers import retry as providers
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.providers.litellm import Attempt, Call, Send
from evalkit.providers.retry import RetryPolicy, complete
from evalkit.testing.server import TestServer
from evalkit.types import Completion, ErrorInfo, ErrorKind, Request


def test_retry_after_closes_the_gate_for_new_attempts():
    async def go() -> AdaptiveLimiter:
        lim = AdaptiveLimiter(8, max_pause_s=5)
        await lim.acquire()
        await lim.acquire()
        lim.release(throttled=True, retry_after=0.4)
        try:
            await asyncio.wait_for(lim.acquire(), 0.1)
            raise AssertionError("the gate let an attempt through before Retry-After")
        except TimeoutError:
            pass
        await asyncio.wait_for(lim.acquire(), 2)  # opens once the provider said it would
        return lim

    lim = asyncio.run(go())
    assert lim.throttles == 1 and lim.limit == 4 and lim.in_flight == 2
    assert 0.3 < lim.paused_s <= 0.4 + 1e-9


def test_no_gate_without_retry_after_or_beyond_the_max_pause():
    async def go() -> None:
        for retry_after in (None, 0.0, 3600.0):
            lim = AdaptiveLimiter(8, max_pause_s=60)
            await lim.acquire()
            lim.release(throttled=True, retry_after=retry_after)
            await asyncio.wait_for(lim.acquire(), 0.5)
            assert lim.paused_s == 0

    asyncio.run(go())


def test_the_rate_window_can_be_shortened():
    with TestServer(rate_limit_per_minute=2, rate_limit_window_s=0.5) as srv:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(timeout=5) as http:
            codes = [
                http.post(srv.openai_base + "/chat/completions", json=body).status_code for _ in range(3)
            ]
            assert codes == [200, 200, 429]
            time.sleep(0.6)
            r = http.post(srv.openai_base + "/chat/completions", json=body)
    assert r.status_code == 200


# -- rate limits cost time, not samples; one burst of 429s cuts once ------------------------------


def _scripted_send(outcomes: list[Attempt]) -> tuple[list[Call], Send]:
    calls: list[Call] = []

    async def send(call: Call) -> Attempt:
        calls.append(call)
        return outcomes.pop(0) if outcomes else Attempt(completion=Completion(text="ok", latency_s=0.0))

    return calls, send


def _throttled(retry_after: float | None) -> Attempt:
    return Attempt(error=ErrorInfo(ErrorKind.RATE_LIMIT, "429", 429), retry_after=retry_after)


REQUEST = Request(model="openai/m", messages=({"role": "user", "content": "q"},), params={})


def test_a_paced_429_does_not_use_up_an_attempt():
    calls, send = _scripted_send([_throttled(0.01) for _ in range(5)])
    policy = RetryPolicy(max_attempts=2, max_retry_time_s=30)
    out = asyncio.run(complete(REQUEST, policy=policy, send=send))
    assert out.error is None and out.text == "ok"
    assert out.attempts == 6 == len(calls)  # every try is still counted in the ledger


@pytest.mark.parametrize(
    ("retry_after", "paced_max"),
    [
        (None, 60.0),  # no wait from the provider: our own back-off, and it counts
        (0.0, 60.0),  # "retry now" paces nothing
        (0.05, 0.01),  # longer than the pacing bound: a quota, and it counts
    ],
)
def test_an_unpaced_429_uses_up_an_attempt(monkeypatch, retry_after, paced_max):
    monkeypatch.setattr(providers, "PACED_WAIT_MAX_S", paced_max)
    calls, send = _scripted_send([_throttled(retry_after) for _ in range(5)])
    policy = RetryPolicy(max_attempts=2, max_retry_time_s=30, base_backoff_s=0.01)
    out = asyncio.run(complete(REQUEST, policy=policy, send=send))
    assert out.error is not None and out.error.kind == ErrorKind.RATE_LIMIT
    assert out.attempts == 2 == len(calls)


def test_paced_429s_are_still_bounded_by_the_retry_time():
    calls, send = _scripted_send([_throttled(0.05) for _ in range(1000)])
    policy = RetryPolicy(max_attempts=2, max_retry_time_s=0.3)
    t0 = time.monotonic()
    out = asyncio.run(complete(REQUEST, policy=policy, send=send))
    assert out.error is not None and time.monotonic() - t0 < 1.0
    assert 3 <= len(calls) <= 8


def test_the_429s_of_one_burst_cut_the_limit_once():
    async def go() -> AdaptiveLimiter:
        lim = AdaptiveLimiter(16, cooldown_s=0)
        burst = [await lim.acquire() for _ in range(3)]
        for ticket in burst:  # all three were in flight when the first 429 came back
            lim.release(throttled=True, ticket=ticket)
        assert lim.limit == 8 and lim.throttles == 3
        later = await lim.acquire()  # started after the cut: a new congestion event
        lim.release(throttled=True, ticket=later)
        assert lim.limit == 4
        return lim

    assert asyncio.run(go()).lowest == 4


def test_a_pause_is_a_congestion_event_too():
    async def go() -> AdaptiveLimiter:
        lim = AdaptiveLimiter(16, cooldown_s=3600)  # the cooldown alone would allow one cut
        early = await lim.acquire()
        lim.release(throttled=True, retry_after=0.05, ticket=early)  # cut to 8, gate closed
        late = await lim.acquire()  # after the pause
        lim.release(throttled=True, retry_after=0.05, ticket=early)  # in flight before: no cut
        lim.release(throttled=False, ticket=late)
        return lim

    lim = asyncio.run(go())
    assert lim.limit == 8 and lim.paused_s > 0
