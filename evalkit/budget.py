"""The spending cap of a run (``max_cost_usd`` in the suite, or ``--max-cost``).

Before each request that will reach the network, the runner asks :meth:`Budget.allow`: the
spend so far, plus what is already in flight, plus this request's estimate (the model's mean
cost per fresh request so far) must stay within the cap. So dispatch stops *before* the cap
would be crossed, and the run says so. Cached answers cost nothing this run. A model without a
known price cannot be counted: the run warns once and its spend is reported as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Budget:
    cap_usd: float | None
    spent_usd: float = 0.0
    """Known cost of requests sent by this run (and, on resume, by the run it continues)."""
    exhausted: bool = False
    _reserved: float = 0.0
    _per_model: dict[str, tuple[float, int]] = field(default_factory=dict)

    def estimate(self, model: str) -> float:
        total, n = self._per_model.get(model, (0.0, 0))
        return total / n if n else 0.0

    def allow(self, model: str) -> float | None:
        """Reserve this request's estimate and return it, or None (and mark exhausted) if it would cross the cap."""
        est = self.estimate(model)
        if self.cap_usd is not None and (
            self.exhausted or self.spent_usd + self._reserved + est > self.cap_usd
        ):
            self.exhausted = True
            return None
        self._reserved += est
        return est

    def settle(self, model: str, reserved: float, cost: float | None) -> None:
        self._reserved -= reserved
        if cost is not None:
            self.spent_usd += cost
            total, n = self._per_model.get(model, (0.0, 0))
            self._per_model[model] = (total + cost, n + 1)

    def manifest(self) -> dict[str, float | bool | None]:
        return {
            "max_cost_usd": self.cap_usd,
            "spent_usd": round(self.spent_usd, 6),
            "exhausted": self.exhausted,
        }
