"""The run's economics for the reports: inputs gathered from the run folder, figures formatted.

:func:`run_economics` reads what :func:`evalkit.economics.compute_economics` needs from run.json
(``suite_config``: each model's ``price``, ``self_hosted``, ``batch`` and the suite's ``volume``),
the run's measured tokens per request and gate-scorer scores (:class:`~evalkit.analysis.summary.RunSummary`),
the user price file (:mod:`evalkit.providers.pricing`) and LiteLLM's local price map (only for API models
neither of those prices). :func:`economics_dict` is summary.json's ``economics`` object;
:func:`money_lines` are the verdict lines that put the gap and the money side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from evalkit.analysis.summary import ALL, ModelSummary, RunSummary
from evalkit.config.catalog import BATCH_PROVIDERS, LOCAL_PROVIDER
from evalkit.economics import (
    TABLE_TOKENS_PER_MONTH,
    ApiPrice,
    Economics,
    MapPrice,
    ModelEconomics,
    ModelInput,
    SelfHostedCost,
    TokenMix,
    Volume,
    compute_economics,
)
from evalkit.rundir.manifest import Manifest
from evalkit.rundir.records import ModelEntry

__all__ = [
    "display_rows",
    "economics_dict",
    "economics_inputs",
    "economics_markdown",
    "fmt_usd",
    "fmt_volume",
    "money_lines",
    "money_phrase",
    "run_economics",
    "table_header",
]


def _recorded(listed: ModelEntry) -> Callable[[str], MapPrice | None]:
    """The price-map entry the run recorded in run.json (``models[].price_map``; null: the map had none)."""
    raw = listed.price_map
    try:
        found = MapPrice(**raw) if raw is not None else None
    except TypeError:  # a hand-edited run.json: treat as no recorded price
        found = None
    return lambda _model: found


def _mix(m: ModelSummary) -> TokenMix | None:
    u = m.usage
    if not u.input_tokens_known_rows or not u.output_tokens_known_rows:
        return None
    return TokenMix(
        u.input_tokens / u.input_tokens_known_rows,
        u.output_tokens / u.output_tokens_known_rows,
        min(u.input_tokens_known_rows, u.output_tokens_known_rows),
    )


def _volume(raw: Any) -> Volume | None:
    if not isinstance(raw, Mapping):
        return None
    keys = ("requests_per_day", "requests_per_month", "tokens_per_month")
    vals = {k: float(raw[k]) for k in keys if isinstance(raw.get(k), int | float) and raw[k] > 0}
    return Volume(**vals) if len(vals) == 1 else None


def _api_price(raw: Any, source: str) -> ApiPrice | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        cached = raw.get("cached_input_per_mtok")
        return ApiPrice(
            float(raw["input_per_mtok"]),
            float(raw["output_per_mtok"]),
            None if cached is None else float(cached),
            source,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _self_hosted(raw: Any) -> SelfHostedCost | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return SelfHostedCost(
            gpu_hourly_usd=float(raw["gpu_hourly_usd"]),
            gpus=int(raw.get("gpus", 1)),
            tokens_per_s=float(raw["tokens_per_s"]),
            engineering_hours_per_month=float(raw.get("engineering_hours_per_month", 0) or 0),
            engineer_hourly_usd=float(raw.get("engineer_hourly_usd", 0) or 0),
            billing="per_use" if raw.get("billing") == "per_use" else "always_on",
        )
    except (KeyError, TypeError, ValueError):
        return None


def _is_batch(
    cfg: Mapping[str, Any], listed: ModelEntry | None, options: Mapping[str, Any], group: str | None
) -> bool:
    if cfg.get("batch") is True or (listed is not None and listed.raw.get("batch") is True):
        return True
    model = str(cfg.get("model") or (listed.model if listed is not None else None) or "")
    return options.get("batch") is True and group == "closed" and model.partition("/")[0] in BATCH_PROVIDERS


def run_economics(
    summary: RunSummary,
    manifest: Manifest,
    *,
    user_prices: Mapping[str, ApiPrice] | None = None,
    litellm_price: Callable[[str], MapPrice | None] | None = None,
) -> Economics:
    """The run's economics. ``user_prices`` default: the user price file (``$EVALKIT_PRICES`` or
    ``~/.config/evalkit/prices.yaml``; a broken file raises :class:`~evalkit.errors.ConfigError`);
    ``litellm_price`` default: the price-map entry the run recorded in run.json (a folder that recorded
    none, e.g. one made by hand, has unknown API prices: the report never imports LiteLLM)."""
    inputs, volume = economics_inputs(summary, manifest, user_prices=user_prices, litellm_price=litellm_price)
    return compute_economics(inputs, baseline=summary.best_closed, volume=volume)


def economics_inputs(
    summary: RunSummary,
    manifest: Manifest,
    *,
    user_prices: Mapping[str, ApiPrice] | None = None,
    litellm_price: Callable[[str], MapPrice | None] | None = None,
) -> tuple[list[ModelInput], Volume | None]:
    """What :func:`run_economics` projects: each model's price and measured mix, and the suite's volume
    (the partial migration's cost reads the same prices)."""
    from evalkit.economics import resolve_price

    if user_prices is None:
        from evalkit.config.prices import load_user_prices

        user_prices, _ = load_user_prices()
    lookup = litellm_price or (lambda _model: None)
    configs = manifest.model_configs
    options = manifest.options
    inputs: list[ModelInput] = []
    for ms in summary.models:
        if ms.usage.cells == 0:
            continue
        cfg = configs.get(ms.name) or {}
        lst = manifest.model(ms.name)
        model = str(cfg.get("model") or (lst.model if lst is not None else None) or ms.info.model or ms.name)
        st = ms.scores.get(summary.gate_scorer) if summary.gate_scorer else None
        score = st.mean if st is not None and st.mean is not None and math.isfinite(st.mean) else None
        sh = _self_hosted(cfg.get("self_hosted"))
        price: ApiPrice | None = None
        reason: str | None = None
        if sh is None:
            suite_price = _api_price(cfg.get("price") or (lst.price if lst is not None else None), "suite")
            if model.partition("/")[0] == LOCAL_PROVIDER and suite_price is None and model not in user_prices:
                reason = (
                    f"{ms.name} ({model}) is an embedded model with no API price: add self_hosted: to cost it"
                )
            else:
                price = resolve_price(
                    model,
                    suite_price=suite_price,
                    user_prices=user_prices,
                    litellm_price=_recorded(lst)
                    if lst is not None and lst.price_map_recorded and litellm_price is None
                    else lookup,
                    batch=_is_batch(cfg, lst, options, ms.group),
                )
                if price is None:
                    reason = (
                        f"no price for {model}: add price: (an API) or self_hosted: (your GPUs) to "
                        f"{ms.name} in the suite, or the model to the user price file"
                    )
        inputs.append(ModelInput(ms.name, ms.group, model, price, sh, _mix(ms), score, reason))
    return inputs, _volume(manifest.volume)


# --- formatting ---------------------------------------------------------------------------------


def fmt_usd(x: float | None, unknown: str = "unknown") -> str:
    """$1,240 / $0.0123 / −$7,647 / unknown."""
    if x is None or not math.isfinite(x):
        return unknown
    sign, x = ("−", -x) if x < 0 else ("", x)
    if x >= 100:
        return f"{sign}${x:,.0f}"
    if x >= 1:
        return f"{sign}${x:,.2f}"
    return f"{sign}${x:.3g}"


def _pp(x: float) -> str:
    return f"{x * 100:+.1f}".replace("-", "−")


def money_phrase(e: ModelEconomics, econ: Economics) -> str:
    """``saves $1,240/month at 8M requests/month`` (with a volume) or ``$0.42 per 1,000 requests`` (without)."""
    if econ.volume is not None and econ.requests_per_month is not None:
        at = f"at {econ.volume.describe()}"
        if e.saving_vs_baseline_usd is None:
            return f"cost unknown {at}"
        s = e.saving_vs_baseline_usd
        if s >= 0:
            return f"saves {fmt_usd(s)}/month {at}"
        return f"costs {fmt_usd(-s)}/month more {at}"
    per = fmt_usd(e.cost_per_1k_requests_usd)
    if e.kind == "self_hosted" and e.fixed_monthly_usd:
        return f"{per} per 1,000 requests in GPU time + {fmt_usd(e.fixed_monthly_usd)}/month fixed (no volume given)"
    return f"{per} per 1,000 requests (no volume given)"


def money_lines(summary: RunSummary, econ: Economics) -> list[str]:
    """One line per open model: the gap as open − closed in percentage points with its interval, and the money.

    e.g. ``open model X: −1.8 pp (CI −4.0 to +0.4), saves $1,240/month at 8M requests/month``.
    """
    out: list[str] = []
    scorer = summary.gate_scorer
    gaps = {g.open_model: g for g in summary.gaps_for(scorer, ALL)} if scorer else {}
    for e in econ.models:
        if e.group != "open":
            continue
        g = gaps.get(e.name)
        if g is not None and g.gap is not None:
            ci = ""
            if g.ci_low is not None and g.ci_high is not None:
                ci = f" (CI {_pp(-g.ci_high)} to {_pp(-g.ci_low)})"
            gap = f"{_pp(-g.gap)} pp{ci}"
        else:
            gap = "no gap measured"
        out.append(f"open model {e.name}: {gap}, {money_phrase(e, econ)}")
    return out


def economics_dict(econ: Economics | None) -> dict[str, Any] | None:
    """summary.json's ``economics`` object (``None`` numbers are unknown)."""
    if econ is None:
        return None
    v = econ.volume
    return {
        "baseline": econ.baseline,
        "volume": None
        if v is None
        else {
            "requests_per_day": v.requests_per_day,
            "requests_per_month": v.requests_per_month,
            "tokens_per_month": v.tokens_per_month,
        },
        "requests_per_month": econ.requests_per_month,
        "models": [
            {
                "name": e.name,
                "group": e.group,
                "model": e.model,
                "kind": e.kind,
                "price_source": e.price_source,
                "input_per_mtok": e.input_per_mtok,
                "output_per_mtok": e.output_per_mtok,
                "cached_input_per_mtok": e.cached_input_per_mtok,
                "self_hosted_per_mtok": e.self_hosted_per_mtok,
                "fixed_monthly_usd": e.fixed_monthly_usd,
                "batch": e.batch,
                "mean_input_tokens": e.mean_input_tokens,
                "mean_output_tokens": e.mean_output_tokens,
                "score": e.score,
                "cost_per_1k_requests_usd": e.cost_per_1k_requests_usd,
                "monthly_cost_usd": e.monthly_cost_usd,
                "saving_vs_baseline_usd": e.saving_vs_baseline_usd,
                "cost_per_correct_usd": e.cost_per_correct_usd,
                "break_even": None
                if e.break_even is None
                else {
                    "requests_per_month": e.break_even.requests_per_month,
                    "tokens_per_month": e.break_even.tokens_per_month,
                    "reason": e.break_even.reason,
                },
                "table_tokens_per_month": dict(e.table),
                "notes": list(e.notes),
            }
            for e in econ.models
        ],
        "unknowns": list(econ.unknowns),
    }


def fmt_volume(x: float | None) -> str:
    """8,000,000 -> 8M (unknown for None)."""
    if x is None or not math.isfinite(x):
        return "unknown"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def display_rows(econ: Economics) -> list[dict[str, str]]:
    """Each model's economics as display strings (HTML and Markdown tables); ``—`` where not applicable."""
    rows: list[dict[str, str]] = []
    for e in econ.models:
        if e.kind == "api":
            rate = f"{fmt_usd(e.input_per_mtok)} in / {fmt_usd(e.output_per_mtok)} out"
            if e.cached_input_per_mtok is not None:
                rate += f" ({fmt_usd(e.cached_input_per_mtok)} cached in)"
        elif e.kind == "self_hosted":
            rate = (
                f"{fmt_usd(e.self_hosted_per_mtok)} all tokens, + {fmt_usd(e.fixed_monthly_usd)}/month fixed"
            )
        else:
            rate = "unknown"
        be = e.break_even
        if be is None:
            be_text = "—"
        elif be.requests_per_month is None:
            be_text = be.reason if be.reason.startswith("never") else f"none: {be.reason}"
        else:
            be_text = f"{fmt_volume(be.requests_per_month)} requests/month ({be.reason})"
        mix = (
            "unknown"
            if e.mean_input_tokens is None or e.mean_output_tokens is None
            else f"{e.mean_input_tokens:,.0f} / {e.mean_output_tokens:,.0f}"
        )
        rows.append(
            {
                "name": e.name,
                "group": e.group or "?",
                "rate": rate,
                "source": e.price_source or "unknown",
                "tokens": mix,
                "per_1k": fmt_usd(e.cost_per_1k_requests_usd),
                "monthly": "—" if econ.requests_per_month is None else fmt_usd(e.monthly_cost_usd),
                "saving": "—"
                if econ.requests_per_month is None or e.name == econ.baseline
                else fmt_usd(e.saving_vs_baseline_usd),
                "per_correct": "— (needs a volume)"
                if e.kind == "self_hosted" and econ.requests_per_month is None
                else fmt_usd(e.cost_per_correct_usd),
                "break_even": be_text,
            }
        )
    return rows


def table_header() -> list[str]:
    """The volume table's column labels (tokens a month)."""
    return [fmt_volume(t) for t in TABLE_TOKENS_PER_MONTH]


def economics_markdown(econ: Economics, esc: Callable[[Any], str]) -> list[str]:
    """The Economics section of summary.md (``esc`` escapes every value)."""
    vol = (
        f"at {econ.volume.describe()} ({fmt_volume(econ.requests_per_month)} requests/month)"
        if econ.volume is not None and econ.requests_per_month is not None
        else "no volume: set volume: in the suite for monthly figures"
    )
    lines = [
        "",
        f"### Economics ({esc(vol)}; baseline {esc(econ.baseline or '—')})",
        "",
        "| model | price | source | tokens in / out per request | per 1,000 requests | per month | saving/month"
        " | per correct answer | break-even |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in display_rows(econ):
        lines.append(
            f"| {esc(r['name'])} | {esc(r['rate'])} | {esc(r['source'])} | {r['tokens']} | {r['per_1k']} | "
            f"{r['monthly']} | {r['saving']} | {r['per_correct']} | {esc(r['break_even'])} |"
        )
    head = table_header()
    lines += [
        "",
        "Monthly cost at each volume (tokens a month, each model's measured input:output mix):",
        "",
        "| model | " + " | ".join(head) + " |",
        "| --- |" + " ---: |" * len(head),
    ]
    for e in econ.models:
        cells = [fmt_usd(e.table.get(h)) for h in head]
        lines.append(f"| {esc(e.name)} | " + " | ".join(cells) + " |")
    if econ.unknowns:  # a blank line first: a list glued to a table is a table row to some renderers
        lines += ["", *(f"- unknown: {esc(u)}" for u in econ.unknowns)]
    return lines
