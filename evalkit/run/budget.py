"""The spending cap of a run (``max_cost_usd`` in the suite, or ``--max-cost``).

Before each request that will reach the network, the runner awaits :meth:`Budget.reserve`: the
spend so far, plus every request already in flight valued at its model's mean cost per request so
far, plus this request's own estimate must stay within the cap. So dispatch stops *before* the
cap would be crossed, and the run says so. Until a model's first request has come back its cost
is not known, so with a cap set each model sends one request first and the rest wait for it
(then the estimate is real: concurrency cannot race past the cap on a zero estimate). Cached
answers cost nothing this run. A model without a known price cannot be counted: the run warns
once and its spend is reported as unknown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Budget:
    cap_usd: float | None
    spent_usd: float = 0.0
    """Known cost of requests sent by this run (and, on resume, by the run it continues)."""
    exhausted: bool = False
    _per_model: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Model -> (known cost, requests with a known cost)."""
    _settled: dict[str, int] = field(default_factory=dict)
    _in_flight: dict[str, int] = field(default_factory=dict)
    _first_back: dict[str, asyncio.Event] = field(default_factory=dict)

    def estimate(self, model: str) -> float:
        total, n = self._per_model.get(model, (0.0, 0))
        return total / n if n else 0.0

    def committed(self) -> float:
        """Spent plus the estimated cost of everything in flight."""
        return self.spent_usd + sum(n * self.estimate(m) for m, n in self._in_flight.items())

    async def reserve(self, model: str) -> bool:
        """Count one more request of ``model`` in flight, or return False (and mark exhausted) if it
        would cross the cap. With a cap, waits until the model's first request has come back."""
        if self.cap_usd is not None:
            while not self._settled.get(model) and self._in_flight.get(model):
                event = self._first_back.setdefault(model, asyncio.Event())
                await event.wait()
            if self.exhausted or self.committed() + self.estimate(model) > self.cap_usd:
                self.exhausted = True
                return False
        self._in_flight[model] = self._in_flight.get(model, 0) + 1
        return True

    def settle(self, model: str, cost: float | None) -> None:
        """One request of ``model`` came back having cost ``cost`` (None: unknown)."""
        self._in_flight[model] -= 1
        self._settled[model] = self._settled.get(model, 0) + 1
        if cost is not None:
            self.spent_usd += cost
            total, n = self._per_model.get(model, (0.0, 0))
            self._per_model[model] = (total + cost, n + 1)
        event = self._first_back.pop(model, None)
        if event is not None:
            event.set()

    def charge(self, cost: float) -> None:
        """Spend that was not reserved first (a batch answer: submitted as a whole, priced as it lands)."""
        self.spent_usd += cost

    def manifest(self) -> dict[str, float | bool | None]:
        return {
            "max_cost_usd": self.cap_usd,
            "spent_usd": round(self.spent_usd, 6),
            "exhausted": self.exhausted,
        }
