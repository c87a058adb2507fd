"""The spending cap under concurrency: the first request of a model goes alone, then in-flight
requests are counted at the model's mean cost, so eight workers never race past the cap."""

from __future__ import annotations

import asyncio

import pytest

from evalkit.run.budget import Budget


@pytest.mark.parametrize(
    ("concurrency", "cost", "cap", "expected"), [(8, 0.012, 0.1, 8), (1, 0.012, 0.1, 8), (8, 0.05, 0.1, 2)]
)
def test_concurrent_workers_stop_before_the_cap(concurrency, cost, cap, expected):
    async def go() -> tuple[Budget, int, int]:
        budget = Budget(cap)
        sent = 0
        peak = in_flight = 0

        async def worker() -> None:
            nonlocal sent, peak, in_flight
            for _ in range(100):
                if not await budget.reserve("m"):
                    return
                sent += 1
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.001)
                in_flight -= 1
                budget.settle("m", cost)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return budget, sent, peak

    budget, sent, _peak = asyncio.run(go())
    assert budget.exhausted and sent == expected
    assert budget.spent_usd <= cap + 1e-12


def test_without_a_cap_nothing_waits_and_unknown_costs_count_nothing():
    async def go() -> Budget:
        budget = Budget(None)
        assert all([await budget.reserve("m") for _ in range(5)])  # no first-request wait
        for _ in range(5):
            budget.settle("m", None)
        return budget

    budget = asyncio.run(go())
    assert budget.spent_usd == 0 and not budget.exhausted


def test_an_unpriced_model_does_not_serialise_after_its_first_answer():
    async def go() -> int:
        budget = Budget(1.0)
        assert await budget.reserve("free")
        waiting = asyncio.create_task(budget.reserve("free"))
        await asyncio.sleep(0.01)
        assert not waiting.done()  # the first answer is not back yet
        budget.settle("free", None)
        assert await waiting
        got = [await budget.reserve("free") for _ in range(3)]  # no longer waits
        return sum(got)

    assert asyncio.run(go()) == 3
