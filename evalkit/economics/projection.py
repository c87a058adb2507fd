"""The projection: each model's monthly cost at the suite's volume, its saving against the baseline,
cost per correct answer, break-even and the volume table. Pure functions; see docs/economics.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from evalkit.economics.rates import (
    DAYS_PER_MONTH,
    TABLE_TOKENS_PER_MONTH,
    ApiPrice,
    SelfHostedCost,
    TokenMix,
    Volume,
    si,
)

__all__ = [
    "BreakEven",
    "Economics",
    "ModelEconomics",
    "ModelInput",
    "api_cost_per_request",
    "break_even",
    "compute_economics",
    "cost_per_correct",
    "monthly_cost",
    "requests_per_month",
]

Kind = Literal["api", "self_hosted", "unknown"]


@dataclass(frozen=True, slots=True)
class ModelInput:
    """One model's inputs to the projection."""

    name: str
    group: str | None
    model: str | None = None
    price: ApiPrice | None = None
    self_hosted: SelfHostedCost | None = None
    mix: TokenMix | None = None
    score: float | None = None
    """The gate scorer's mean (fraction correct)."""
    unknown_reason: str | None = None
    """Why the model has neither a price nor a self-hosted cost."""

    @property
    def kind(self) -> Kind:
        if self.self_hosted is not None:
            return "self_hosted"
        return "api" if self.price is not None else "unknown"


@dataclass(frozen=True, slots=True)
class BreakEven:
    """Where a self-hosted model's monthly cost line crosses the baseline API's, or why it does not."""

    requests_per_month: float | None
    tokens_per_month: float | None
    """The self-hosted model's tokens at that volume (its own token mix)."""
    reason: str


@dataclass(frozen=True, slots=True)
class ModelEconomics:
    """One model's costs. Every ``None`` is unknown; :attr:`notes` say why."""

    name: str
    group: str | None
    model: str | None
    kind: Kind
    price_source: str | None
    input_per_mtok: float | None
    output_per_mtok: float | None
    cached_input_per_mtok: float | None
    self_hosted_per_mtok: float | None
    """Self-hosted USD per million tokens at full GPU use."""
    fixed_monthly_usd: float | None
    """Self-hosted cost at no traffic (engineering, + one replica when always on); 0 for an API."""
    batch: bool
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    score: float | None
    cost_per_1k_requests_usd: float | None
    """API: the variable cost; self-hosted: the GPU cost at full use (the fixed cost is apart)."""
    monthly_cost_usd: float | None
    """At the suite's volume (``None`` without a volume)."""
    saving_vs_baseline_usd: float | None
    """Baseline's monthly cost minus this one's at the suite's volume: positive saves money."""
    cost_per_correct_usd: float | None
    break_even: BreakEven | None
    """Against the baseline, for self-hosted models (``None`` for the baseline itself)."""
    table: dict[str, float | None]
    """Volume label (``1M``, ``10M``... tokens/month) -> monthly cost at that many of this model's tokens."""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Economics:
    """The economics of a run."""

    baseline: str | None
    """The best closed model (the gate's baseline)."""
    volume: Volume | None
    requests_per_month: float | None
    """The suite's volume as requests a month (``None`` without a volume or when unconvertible)."""
    models: list[ModelEconomics]
    unknowns: list[str]
    """One line per unknown: which model, what is missing, what to add."""

    def model(self, name: str) -> ModelEconomics | None:
        return next((m for m in self.models if m.name == name), None)


# --- formulas -----------------------------------------------------------------------------------


def api_cost_per_request(price: ApiPrice | None, mix: TokenMix | None) -> float | None:
    """(mean_input × input_per_mtok + mean_output × output_per_mtok) / 1e6; ``None`` if either is unknown."""
    if price is None or mix is None:
        return None
    return price.per_request(mix)


def monthly_cost(m: ModelInput, requests: float) -> float | None:
    """USD a month for ``requests`` requests of ``m``'s measured token mix; ``None`` when unknown."""
    if m.mix is None:
        return None
    if m.self_hosted is not None:
        return m.self_hosted.monthly(requests * m.mix.per_request)
    per = api_cost_per_request(m.price, m.mix)
    return None if per is None else per * requests


def cost_per_correct(monthly: float | None, requests: float | None, score: float | None) -> float | None:
    """monthly / (requests × score): ``None`` when any is unknown or nothing is correct."""
    if monthly is None or requests is None or score is None or requests <= 0 or score <= 0:
        return None
    return monthly / (requests * score)


def requests_per_month(volume: Volume | None, baseline_mix: TokenMix | None) -> float | None:
    """The volume as requests a month: requests_per_day × 365/12, or tokens / the baseline's tokens per request."""
    if volume is None:
        return None
    if volume.requests_per_month is not None:
        return volume.requests_per_month
    if volume.requests_per_day is not None:
        return volume.requests_per_day * DAYS_PER_MONTH
    if volume.tokens_per_month is None or baseline_mix is None or baseline_mix.per_request <= 0:
        return None
    return volume.tokens_per_month / baseline_mix.per_request


def break_even(model: ModelInput, baseline: ModelInput) -> BreakEven:
    """The monthly requests at which self-hosting ``model`` costs what the ``baseline`` API does.

    API line: a × R (a = the baseline's cost per request). Self-hosted line, with t tokens per
    request: per_use: s × R + E (s = t × per_mtok / 1e6, E = engineering); always_on:
    k(R) × G + E with G one replica's month and k(R) = ceil(R × t / capacity) replicas. They cross at
    R* = E / (a − s) (per_use), or R* = (k × G + E) / a for the least k ≥ 1 with a × k × C ≥ k × G + E,
    C = capacity / t requests per replica (always_on). Above R* self-hosting is cheaper (always_on:
    up to the next replica's step). ``None`` with the reason when the lines never cross.
    """
    sh = model.self_hosted
    if sh is None:
        return BreakEven(None, None, "not self-hosted: both are priced per token, so no break-even volume")
    if baseline.kind != "api":
        return BreakEven(None, None, f"the baseline {baseline.name} has no API price")
    a = api_cost_per_request(baseline.price, baseline.mix)
    if a is None or model.mix is None or model.mix.per_request <= 0:
        who = model.name if model.mix is None or model.mix.per_request <= 0 else baseline.name
        return BreakEven(None, None, f"no measured tokens per request for {who}")
    t = model.mix.per_request
    e = sh.engineering_monthly
    if sh.billing == "per_use":
        s = t * sh.per_mtok / 1e6
        if a <= s:
            return BreakEven(
                None,
                None,
                f"never: self-hosting costs ${s * 1000:,.4g} per 1,000 requests in GPU time alone, "
                f"the API ${a * 1000:,.4g}",
            )
        if e <= 0:
            return BreakEven(0.0, 0.0, "no fixed cost: self-hosting is cheaper at every volume")
        r = e / (a - s)
        return BreakEven(r, r * t, f"engineering ${e:,.0f}/month ÷ (API − GPU cost per request)")
    g = sh.replica_monthly
    c = sh.capacity_tokens_per_month / t
    if a * c <= g:
        return BreakEven(
            None,
            None,
            f"never: a fully used replica costs ${g / c * 1000:,.4g} per 1,000 requests, "
            f"the API ${a * 1000:,.4g}",
        )
    k = max(1, math.ceil(e / (a * c - g) - 1e-12))
    r = (k * g + e) / a
    return BreakEven(r, r * t, f"{k} always-on replica{'s' if k > 1 else ''} + engineering = the API's bill")


def _table(m: ModelInput) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for tokens in TABLE_TOKENS_PER_MONTH:
        label = si(tokens)
        if m.mix is None or m.mix.per_request <= 0:
            out[label] = None
        else:
            out[label] = monthly_cost(m, tokens / m.mix.per_request)
    return out


def _per_1k(m: ModelInput) -> float | None:
    if m.mix is None:
        return None
    if m.self_hosted is not None:
        return m.mix.per_request * m.self_hosted.per_mtok / 1e6 * 1000.0
    per = api_cost_per_request(m.price, m.mix)
    return None if per is None else per * 1000.0


def _unknowns(m: ModelInput) -> list[str]:
    out: list[str] = []
    if m.kind == "unknown":
        out.append(m.unknown_reason or f"no price for {m.model or m.name}: add price: to the suite")
    if m.mix is None:
        out.append(f"no measured token counts for {m.name}: its costs are unknown")
    return out


def compute_economics(
    models: Sequence[ModelInput], *, baseline: str | None, volume: Volume | None
) -> Economics:
    """Every model's costs, its saving against ``baseline`` and its break-even, at ``volume``."""
    base = next((m for m in models if m.name == baseline), None)
    requests = requests_per_month(volume, base.mix if base is not None else None)
    unknowns: list[str] = []
    if volume is not None and volume.tokens_per_month is not None and requests is None:
        unknowns.append(
            "tokens_per_month needs the baseline's measured tokens per request to become requests: "
            "give requests_per_day or requests_per_month"
        )
    base_monthly = monthly_cost(base, requests) if base is not None and requests is not None else None
    out: list[ModelEconomics] = []
    for m in models:
        notes = _unknowns(m)
        unknowns.extend(notes)
        monthly = monthly_cost(m, requests) if requests is not None else None
        saving = None
        if base is not None and m.name != base.name and monthly is not None and base_monthly is not None:
            saving = base_monthly - monthly
        if requests is not None:
            per_correct = cost_per_correct(monthly, requests, m.score)
        elif m.self_hosted is None:  # no volume: an API's cost per correct answer does not depend on it
            per_correct = cost_per_correct(api_cost_per_request(m.price, m.mix), 1.0, m.score)
        else:
            per_correct = None
        be = None
        if base is not None and m.name != base.name and m.self_hosted is not None:
            be = break_even(m, base)
        sh = m.self_hosted
        out.append(
            ModelEconomics(
                name=m.name,
                group=m.group,
                model=m.model,
                kind=m.kind,
                price_source=m.price.source if m.price else ("self_hosted" if sh else None),
                input_per_mtok=m.price.input_per_mtok if m.price else None,
                output_per_mtok=m.price.output_per_mtok if m.price else None,
                cached_input_per_mtok=m.price.cached_input_per_mtok if m.price else None,
                self_hosted_per_mtok=sh.per_mtok if sh else None,
                fixed_monthly_usd=sh.fixed_monthly if sh else (0.0 if m.price else None),
                batch=bool(m.price and m.price.batch),
                mean_input_tokens=m.mix.mean_input if m.mix else None,
                mean_output_tokens=m.mix.mean_output if m.mix else None,
                score=m.score,
                cost_per_1k_requests_usd=_per_1k(m),
                monthly_cost_usd=monthly,
                saving_vs_baseline_usd=saving,
                cost_per_correct_usd=per_correct,
                break_even=be,
                table=_table(m),
                notes=notes,
            )
        )
    return Economics(
        baseline=baseline if base else None,
        volume=volume,
        requests_per_month=requests,
        models=out,
        unknowns=unknowns,
    )
