"""Rates: what an API charges per token, what a self-hosted GPU costs, a model's measured token mix,
the production volume, and where an API price comes from (:func:`resolve_price`). See docs/economics.md."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "BATCH_DISCOUNT",
    "DAYS_PER_MONTH",
    "HOURS_PER_MONTH",
    "TABLE_TOKENS_PER_MONTH",
    "ApiPrice",
    "MapPrice",
    "SelfHostedCost",
    "TokenMix",
    "Volume",
    "resolve_price",
    "si",
]

HOURS_PER_MONTH = 730.0
"""Hours in an average month (8,760 / 12): an always-on GPU bills this many a month."""
DAYS_PER_MONTH = 365.0 / 12.0
"""Days in an average month, to turn ``requests_per_day`` into a month."""
BATCH_DISCOUNT = 0.5
"""OpenAI's and Anthropic's Batch APIs charge half the standard rates."""
TABLE_TOKENS_PER_MONTH: tuple[float, ...] = (1e6, 1e7, 1e8, 1e9)
"""The volumes of the table (total tokens a month, input + output)."""


@dataclass(frozen=True, slots=True)
class ApiPrice:
    """What an API charges, USD per million tokens, and where the figure came from."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    """Shown, not applied: the ledger does not record cached prompt tokens yet."""
    source: str = ""
    """``suite``, ``user price file PATH`` or ``LiteLLM price map``, plus ``, batch …`` when batch rates apply."""
    batch: bool = False

    def cost(self, input_tokens: int | None, output_tokens: int | None) -> float | None:
        """USD for one request's tokens; None when either count is unknown (never a made-up 0)."""
        if input_tokens is None or output_tokens is None:
            return None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6

    def per_request(self, mix: TokenMix) -> float:
        """USD for one request of this token mix."""
        return (mix.mean_input * self.input_per_mtok + mix.mean_output * self.output_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class MapPrice:
    """A model's entry in LiteLLM's price map, per million tokens (batch rates ``None`` when absent)."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    batch_input_per_mtok: float | None = None
    batch_output_per_mtok: float | None = None


@dataclass(frozen=True, slots=True)
class SelfHostedCost:
    """A self-hosted deployment: GPUs, their throughput, and the engineering time it takes."""

    gpu_hourly_usd: float
    """USD per GPU-hour."""
    gpus: int
    """GPUs per replica (one serving instance)."""
    tokens_per_s: float
    """All tokens (input + output) one replica processes per second at the planned concurrency."""
    engineering_hours_per_month: float = 0.0
    engineer_hourly_usd: float = 0.0
    billing: Literal["always_on", "per_use"] = "always_on"

    @property
    def per_mtok(self) -> float:
        """USD per million tokens at full use: gpu_hourly_usd × gpus / (tokens_per_s × 3600) × 1e6."""
        return self.gpu_hourly_usd * self.gpus / (self.tokens_per_s * 3600.0) * 1e6

    @property
    def engineering_monthly(self) -> float:
        return self.engineering_hours_per_month * self.engineer_hourly_usd

    @property
    def replica_monthly(self) -> float:
        """One always-on replica: gpu_hourly_usd × gpus × 730 h."""
        return self.gpu_hourly_usd * self.gpus * HOURS_PER_MONTH

    @property
    def capacity_tokens_per_month(self) -> float:
        """What one replica can process in a month: tokens_per_s × 3600 × 730."""
        return self.tokens_per_s * 3600.0 * HOURS_PER_MONTH

    @property
    def fixed_monthly(self) -> float:
        """What a month costs at (almost) no traffic: engineering, plus one replica when always on."""
        gpu = self.replica_monthly if self.billing == "always_on" else 0.0
        return gpu + self.engineering_monthly

    def replicas(self, tokens: float) -> int:
        """Always-on replicas needed for ``tokens`` a month (at least one)."""
        return max(1, math.ceil(tokens / self.capacity_tokens_per_month - 1e-12))

    def monthly(self, tokens: float) -> float:
        """USD a month for ``tokens`` tokens (input + output)."""
        if self.billing == "per_use":
            return tokens / 1e6 * self.per_mtok + self.engineering_monthly
        return self.replicas(tokens) * self.replica_monthly + self.engineering_monthly


@dataclass(frozen=True, slots=True)
class TokenMix:
    """A model's measured mean tokens per request on this run."""

    mean_input: float
    mean_output: float
    requests: int = 0
    """Requests the means are over (answered, with token counts)."""

    @property
    def per_request(self) -> float:
        return self.mean_input + self.mean_output


@dataclass(frozen=True, slots=True)
class Volume:
    """The production volume a suite states: exactly one of the three."""

    requests_per_day: float | None = None
    requests_per_month: float | None = None
    tokens_per_month: float | None = None
    """Counted in the baseline model's tokens (what today's API bill shows)."""

    def describe(self) -> str:
        if self.requests_per_day is not None:
            return f"{si(self.requests_per_day)} requests/day"
        if self.requests_per_month is not None:
            return f"{si(self.requests_per_month)} requests/month"
        return f"{si(self.tokens_per_month or 0.0)} tokens/month"


def si(x: float) -> str:
    """8000000 -> 8M, 1500 -> 1.5k, 2.5e9 -> 2.5B."""
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


# --- prices -------------------------------------------------------------------------------------


def resolve_price(
    model: str,
    *,
    suite_price: ApiPrice | None,
    user_prices: Mapping[str, ApiPrice],
    litellm_price: Callable[[str], MapPrice | None],
    batch: bool = False,
) -> ApiPrice | None:
    """The price of an API model: suite > user price file > LiteLLM's map; ``None`` when none knows it.

    With ``batch``: LiteLLM's batch rates when its map has them (and was the source), else half.
    """
    price = suite_price or user_prices.get(model)
    if price is None:
        found = litellm_price(model)
        if found is None:
            return None
        if batch and found.batch_input_per_mtok is not None and found.batch_output_per_mtok is not None:
            return ApiPrice(
                found.batch_input_per_mtok,
                found.batch_output_per_mtok,
                found.cached_input_per_mtok,
                "LiteLLM price map, batch rates",
                batch=True,
            )
        price = ApiPrice(
            found.input_per_mtok, found.output_per_mtok, found.cached_input_per_mtok, "LiteLLM price map"
        )
    if not batch:
        return price
    cached = price.cached_input_per_mtok
    return replace(
        price,
        input_per_mtok=price.input_per_mtok * BATCH_DISCOUNT,
        output_per_mtok=price.output_per_mtok * BATCH_DISCOUNT,
        cached_input_per_mtok=None if cached is None else cached * BATCH_DISCOUNT,
        source=f"{price.source}, batch −50 %",
        batch=True,
    )
