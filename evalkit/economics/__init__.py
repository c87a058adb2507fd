"""The economics of a migration: what each model costs and saves at the user's volume (docs/economics.md).

Pure functions over typed inputs, no I/O: the report layer (:mod:`evalkit.report.economics_view`)
gathers the inputs from the run folder, the user price file (:mod:`evalkit.providers.pricing`) and LiteLLM's
local price map (:func:`evalkit.providers.litellm_price_info`), and formats the result.

A model is costed one of two ways:

* **API** — USD per million input and output tokens (:class:`ApiPrice`). Precedence: the suite's
  ``price:`` > the user price file > LiteLLM's price map > *unknown*. With ``batch: true`` the
  batch rates apply (LiteLLM's ``*_cost_per_token_batches`` when its map has them, else 50 %).
* **self-hosted** — ``self_hosted:`` (:class:`SelfHostedCost`): GPU $/hour × GPUs over a measured
  or declared throughput of *all* tokens (input + output) per second at the concurrency you will
  run, plus engineering hours × hourly rate as a fixed monthly cost. ``billing: always_on``
  (default) pays the GPUs 24/7 (730 h/month) per replica, a replica serving at most
  ``tokens_per_s`` × 3600 × 730 tokens a month; ``billing: per_use`` pays only the GPU time the
  tokens use (serverless or shared GPUs).

Each model's cost at a volume comes from its *measured* mean input and output tokens per request
on this run (tokenisers differ: measured, never assumed). Anything unknown (no price, no token
counts, no score) stays ``None`` all the way to the report, with the reason.

The code: :mod:`evalkit.economics.rates` (prices, GPU costs, token mix, volume, price precedence),
:mod:`evalkit.economics.projection` (monthly costs, savings, break-even, the volume table) and
:mod:`evalkit.economics.blend` (a partial migration's cost: each slice on the model it is routed to).
"""

from evalkit.economics.blend import BlendCost, SliceCost, blend_cost, slice_mixes, weighted_mix
from evalkit.economics.projection import (
    BreakEven,
    Economics,
    ModelEconomics,
    ModelInput,
    api_cost_per_request,
    break_even,
    compute_economics,
    cost_per_correct,
    monthly_cost,
    requests_per_month,
)
from evalkit.economics.rates import (
    BATCH_DISCOUNT,
    DAYS_PER_MONTH,
    HOURS_PER_MONTH,
    TABLE_TOKENS_PER_MONTH,
    ApiPrice,
    MapPrice,
    SelfHostedCost,
    TokenMix,
    Volume,
    resolve_price,
)

__all__ = [
    "BATCH_DISCOUNT",
    "DAYS_PER_MONTH",
    "HOURS_PER_MONTH",
    "TABLE_TOKENS_PER_MONTH",
    "ApiPrice",
    "BlendCost",
    "BreakEven",
    "Economics",
    "MapPrice",
    "ModelEconomics",
    "ModelInput",
    "SelfHostedCost",
    "SliceCost",
    "TokenMix",
    "Volume",
    "api_cost_per_request",
    "blend_cost",
    "break_even",
    "compute_economics",
    "cost_per_correct",
    "monthly_cost",
    "requests_per_month",
    "resolve_price",
    "slice_mixes",
    "weighted_mix",
]
