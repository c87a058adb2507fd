"""Adaptive concurrency: halve on 429, grow back on success, never above the suite's bound."""

from __future__ import annotations

import asyncio

from evalkit.providers.limiter import AdaptiveLimiter


def test_halves_on_throttle_once_per_cooldown_and_recovers():
    async def go() -> AdaptiveLimiter:
        lim = AdaptiveLimiter(8, cooldown_s=60)
        for _ in range(3):
            await lim.acquire()
        lim.release(throttled=True)  # 8 -> 4
        lim.release(throttled=True)  # same burst: no second cut
        lim.release(throttled=False)
        assert (lim.limit, lim.throttles, lim.in_flight) == (4, 2, 0)
        for _ in range(4):  # `limit` successes in a row -> +1
            await lim.acquire()
            lim.release(throttled=False)
        assert lim.limit == 5
        return lim

    lim = asyncio.run(go())
    assert lim.lowest == 4 and lim.peak == 3


def test_never_more_in_flight_than_the_limit():
    async def go() -> AdaptiveLimiter:
        lim = AdaptiveLimiter(3, cooldown_s=0)
        in_flight = 0
        seen = 0

        async def worker(i: int) -> None:
            nonlocal in_flight, seen
            await lim.acquire()
            in_flight += 1
            seen = max(seen, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1
            lim.release(throttled=i % 5 == 0)

        await asyncio.gather(*(worker(i) for i in range(60)))
        assert seen <= 3
        return lim

    lim = asyncio.run(go())
    assert lim.peak <= 3 and lim.in_flight == 0 and lim.throttles == 12


def test_cancelled_waiter_does_not_leak_a_slot():
    async def go() -> None:
        lim = AdaptiveLimiter(1)
        await lim.acquire()
        waiter = asyncio.create_task(lim.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.sleep(0)
        lim.release(throttled=False)
        await asyncio.wait_for(lim.acquire(), 1)  # the slot went to a live caller
        assert lim.in_flight == 1

    asyncio.run(go())
