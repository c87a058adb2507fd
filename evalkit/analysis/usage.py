"""Streaming usage counts (requests, errors, tokens, cost, latency p50/p95/p99 and time to first
token) for the aggregator.

Unknown is kept apart from zero: a row whose provider gave no token count or whose cost is
unknown is counted as such, never summed as 0.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from evalkit.analysis.summary import UsageStat
from evalkit.stats import quantiles
from evalkit.types import Result

__all__ = ["UsageAccumulator"]


@dataclass
class UsageAccumulator:
    """Requests, errors, tokens, cost and latencies of one model x slice; :meth:`freeze` into a :class:`UsageStat`."""

    cells: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    input_known: int = 0
    input_unknown: int = 0
    output_tokens: int = 0
    output_known: int = 0
    output_unknown: int = 0
    cost: float = 0.0
    cost_known: int = 0
    cost_unknown: int = 0
    cached: int = 0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)

    def add(self, r: Result) -> None:
        c = r.completion
        self.cells += 1
        self.cached += bool(c.cached)
        failed = c.error is not None
        if failed:
            self.errors += 1
            self.error_kinds[str(c.error.kind) if c.error else "unknown"] += 1
        if c.input_tokens is not None:
            self.input_tokens += int(c.input_tokens)
            self.input_known += 1
        elif not failed:
            self.input_unknown += 1
        if c.output_tokens is not None:
            self.output_tokens += int(c.output_tokens)
            self.output_known += 1
        elif not failed:
            self.output_unknown += 1
        if c.cost_usd is not None and math.isfinite(c.cost_usd):
            self.cost += float(c.cost_usd)
            self.cost_known += 1
        elif not failed:
            self.cost_unknown += 1
        if not failed and c.latency_s is not None and math.isfinite(c.latency_s):
            self.latencies.append(float(c.latency_s))
        if not failed and c.ttft_s is not None and math.isfinite(c.ttft_s):
            self.ttfts.append(float(c.ttft_s))

    def freeze(self) -> UsageStat:
        p50, p95, p99 = quantiles(self.latencies, (0.5, 0.95, 0.99))
        t50, t95, t99 = quantiles(self.ttfts, (0.5, 0.95, 0.99))
        return UsageStat(
            cells=self.cells,
            errors=self.errors,
            error_kinds=dict(sorted(self.error_kinds.items())),
            input_tokens=self.input_tokens,
            input_tokens_known_rows=self.input_known,
            input_tokens_unknown=self.input_unknown,
            output_tokens=self.output_tokens,
            output_tokens_known_rows=self.output_known,
            output_tokens_unknown=self.output_unknown,
            cost_usd=self.cost,
            cost_known_rows=self.cost_known,
            cost_unknown_rows=self.cost_unknown,
            latency_p50_s=p50,
            latency_p95_s=p95,
            latency_p99_s=p99,
            ttft_p50_s=t50,
            ttft_p95_s=t95,
            ttft_p99_s=t99,
            cached=self.cached,
        )
