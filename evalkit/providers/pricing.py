"""Where an API model's price comes from when a run charges it, in one place: the suite's ``price:``,
then the user price file (:mod:`evalkit.config.prices`), then LiteLLM's local price map, then
*unknown* (never $0). The report resolves the same chain from what run.json recorded
(:func:`evalkit.economics.resolve_price`), without LiteLLM. docs/economics.md.
"""

from __future__ import annotations

import functools

from evalkit.config.prices import load_user_prices
from evalkit.config.schema import Price
from evalkit.economics import ApiPrice, resolve_price
from evalkit.providers.litellm import litellm_price_info

__all__ = ["batch_price", "run_price", "suite_price"]


def suite_price(price: Price | None) -> ApiPrice | None:
    """A suite's ``price:`` as the run charges it."""
    if price is None:
        return None
    return ApiPrice(price.input_per_mtok, price.output_per_mtok, price.cached_input_per_mtok, source="suite")


def run_price(model: str, price: Price | None) -> ApiPrice | None:
    """The price a run charges ``model`` with before asking LiteLLM: the suite's, else the user price
    file's (None: LiteLLM's own figure for each response, or its map, or unknown).

    Called when a run plans its models, so a broken price file stops the run before any request."""
    if price is not None:
        return suite_price(price)
    prices, _ = load_user_prices()
    return prices.get(model)


@functools.lru_cache(maxsize=256)
def _batch_price(model: str, suite: ApiPrice | None) -> ApiPrice | None:
    return resolve_price(
        model, suite_price=suite, user_prices={}, litellm_price=litellm_price_info, batch=True
    )


def batch_price(model: str, price: ApiPrice | None) -> ApiPrice | None:
    """The batch price of ``model``: half of ``price`` (the suite's or the user file's) when given, else
    LiteLLM's ``*_cost_per_token_batches`` where its map has them, else half its normal price (both
    providers charge 50 % for batches); None when unknown."""
    return _batch_price(model, price)
