"""The user-level price file: your negotiated or missing prices, for every suite (docs/economics.md).

``$EVALKIT_PRICES`` names it (``none``: no user prices); otherwise ``~/.config/evalkit/prices.yaml``
is read when it exists.
It maps a LiteLLM model string to a price, USD per million tokens::

    openai/gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6, cached_input_per_mtok: 0.075}
    together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo: {input_per_mtok: 0.88, output_per_mtok: 0.88}

Keys are checked like a suite's (unknown key, negative number: one line naming the file and the
model); a price here overrides LiteLLM's map, a suite's ``price:`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from evalkit._util.io import read_yaml
from evalkit.config.schema import Price
from evalkit.economics import ApiPrice
from evalkit.errors import ConfigError

__all__ = ["ENV_VAR", "default_price_file", "load_user_prices"]

ENV_VAR = "EVALKIT_PRICES"


def default_price_file() -> Path | None:
    """``$EVALKIT_PRICES`` (which must exist), else ``~/.config/evalkit/prices.yaml`` if it exists, else None."""
    env = os.environ.get(ENV_VAR)
    if (
        env and env.lower() == "none"
    ):  # no user prices at all (CI, tests: reports that do not depend on $HOME)
        return None
    if env:
        p = Path(os.path.expanduser(env))
        if not p.is_file():
            raise ConfigError(f"{p}: price file not found (from ${ENV_VAR})")
        return p
    home = Path(os.path.expanduser("~/.config/evalkit/prices.yaml"))
    return home if home.is_file() else None


def load_user_prices(path: str | Path | None = None) -> tuple[dict[str, ApiPrice], Path | None]:
    """The prices in ``path`` (default: :func:`default_price_file`) and the file read (None: no file).

    Raises :class:`ConfigError` with one line naming the file, the model and the field.
    """
    p = Path(path) if path is not None else default_price_file()
    if p is None:
        return {}, None
    if not p.is_file():
        raise ConfigError(f"{p}: price file not found")
    raw = read_yaml(p)
    if raw is None:
        return {}, p
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: a price file maps model strings to {{input_per_mtok, output_per_mtok}}")
    out: dict[str, ApiPrice] = {}
    for model, entry in raw.items():
        if not isinstance(model, str) or "/" not in model:
            raise ConfigError(f"{p}: {model!r}: not a LiteLLM model string 'provider/name'")
        if not isinstance(entry, dict):
            raise ConfigError(f"{p}: {model}: expected {{input_per_mtok: ..., output_per_mtok: ...}}")
        try:
            price = Price.model_validate(entry)
        except ValidationError as exc:
            e = exc.errors()[0]
            field = ".".join(str(x) for x in e["loc"]) or "(entry)"
            what = {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(
                e["type"], str(e["msg"]).removeprefix("Value error, ")
            )
            raise ConfigError(f"{p}: {model}.{field}: {what}") from None
        out[model] = ApiPrice(
            price.input_per_mtok,
            price.output_per_mtok,
            price.cached_input_per_mtok,
            source=f"user price file {p}",
        )
    return out, p
