"""A 429 with Retry-After closes the model's gate until then; the test server's short rate window."""

from __future__ import annotations

import asyncio
import time

import httpx

from evalkit.limiter import AdaptiveLimiter
from evalkit.testserver import TestServer


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
