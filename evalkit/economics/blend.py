"""The cost of a partial migration: the closed model serves the slices it keeps, the open model the
slices that move, each at its own measured tokens per request on those slices (docs/economics.md,
"Partial migration").

With R requests a month, slice j's share w_j of the traffic, s = Σ_moved w_j the share that moves,
and each model's token mix on a set of slices the share-weighted mean of its per-slice mixes:

* all-closed = ``monthly_cost(closed at its mix over every slice, R)``;
* blend = ``monthly_cost(closed at its mix over the kept slices, (1 − s) R)`` +
  ``monthly_cost(open at its mix over the moved slices, s R)`` — a self-hosted open model pays its
  replicas and engineering in full however little traffic moves;
* saving = all-closed − blend; cost per correct answer = monthly / (R × score), the blend's score
  being the honest (held-out) estimate.

Unknown stays unknown: a model without a price, a slice without measured token counts, or no
volume leaves the figures that need it ``None``, with the reason in :attr:`BlendCost.unknowns`,
never $0. A part that serves no traffic (s = 0 or s = 1) costs exactly 0: no request is sent to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from evalkit.economics.projection import (
    ModelInput,
    api_cost_per_request,
    cost_per_correct,
    monthly_cost,
    requests_per_month,
)
from evalkit.economics.rates import TokenMix, Volume

__all__ = ["BlendCost", "SliceCost", "blend_cost", "slice_mixes", "weighted_mix"]

_SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class SliceCost:
    """One slice of the routing field: its share of the traffic, where it goes, each model's tokens there."""

    label: str
    share: float
    """Share of the requests in this slice (the slices' shares sum to 1)."""
    to_open: bool
    closed_mix: TokenMix | None
    """The closed model's measured mean tokens per request on this slice (``None``: none measured)."""
    open_mix: TokenMix | None


@dataclass(frozen=True, slots=True)
class BlendCost:
    """What the blend costs at the volume, against all-closed. Every ``None`` is unknown (see :attr:`unknowns`)."""

    requests_per_month: float | None
    open_share: float
    """s: the share of the requests routed to the open model."""
    closed_mix_kept: TokenMix | None
    """The closed model's mean tokens per request on the slices it keeps."""
    open_mix_moved: TokenMix | None
    all_closed_monthly_usd: float | None
    closed_part_usd: float | None
    """The closed model's bill for the kept traffic."""
    open_part_usd: float | None
    """The open model's bill (API or self-hosted) for the moved traffic."""
    blend_monthly_usd: float | None
    saving_usd: float | None
    """All-closed minus the blend: positive saves money."""
    saving_fraction: float | None
    """The saving as a share of the all-closed bill."""
    all_closed_cost_per_correct_usd: float | None
    blend_cost_per_correct_usd: float | None
    all_closed_per_1k_requests_usd: float | None
    """Without a volume too, when the closed model is an API (linear in requests)."""
    blend_per_1k_requests_usd: float | None
    """When both parts are linear (APIs): ``1000 × ((1 − s) a_kept + s a_moved)``."""
    unknowns: tuple[str, ...]


def slice_mixes(
    labels: Sequence[str | None], input_tokens: Sequence[int | None], output_tokens: Sequence[int | None]
) -> dict[str, TokenMix | None]:
    """One model's measured mix per slice from its requests (one label and token counts each, as in
    the ledger): mean input over the requests that report input tokens, mean output likewise;
    ``None`` for a slice where either is never reported. Requests without a slice are skipped."""
    if not len(labels) == len(input_tokens) == len(output_tokens):
        raise ValueError("labels and token counts must have one entry per request")
    sums: dict[str, list[int]] = {}
    for label, i, o in zip(labels, input_tokens, output_tokens, strict=True):
        if label is None:
            continue
        acc = sums.setdefault(label, [0, 0, 0, 0])  # input sum, input rows, output sum, output rows
        if i is not None:
            acc[0] += int(i)
            acc[1] += 1
        if o is not None:
            acc[2] += int(o)
            acc[3] += 1
    return {
        label: TokenMix(a[0] / a[1], a[2] / a[3], min(a[1], a[3])) if a[1] and a[3] else None
        for label, a in sums.items()
    }


def weighted_mix(slices: Sequence[SliceCost], *, model: str, to_open: bool | None) -> TokenMix | None:
    """The share-weighted mean mix of ``model`` (``closed`` or ``open``) over the slices routed
    ``to_open`` (``None``: every slice); ``None`` when one of them has no measured mix or they have no share."""
    chosen = [s for s in slices if to_open is None or s.to_open == to_open]
    weight = sum(s.share for s in chosen)
    mixes = [(s.share, s.closed_mix if model == "closed" else s.open_mix) for s in chosen if s.share > 0]
    if weight <= 0 or any(m is None for _w, m in mixes):
        return None
    inp = sum(w * m.mean_input for w, m in mixes if m is not None) / weight
    out = sum(w * m.mean_output for w, m in mixes if m is not None) / weight
    return TokenMix(inp, out, sum(m.requests for _w, m in mixes if m is not None))


def _part(m: ModelInput, mix: TokenMix | None, requests: float | None, share: float) -> float | None:
    if share <= 0:
        return 0.0
    if requests is None or mix is None:
        return None
    return monthly_cost(replace(m, mix=mix), requests * share)


def _per_request(m: ModelInput, mix: TokenMix | None, share: float) -> float | None:
    if share <= 0:
        return 0.0
    if m.self_hosted is not None:
        return None  # fixed costs: per request only at a volume
    return api_cost_per_request(m.price, mix)


def _missing(slices: Sequence[SliceCost], model: ModelInput, which: str, to_open: bool | None) -> list[str]:
    return [
        f"no measured token counts for {model.name} on slice {s.label}: the blend's cost is unknown"
        for s in slices
        if (to_open is None or s.to_open == to_open)
        and s.share > 0
        and (s.closed_mix if which == "closed" else s.open_mix) is None
    ]


def blend_cost(
    closed: ModelInput,
    open_: ModelInput,
    slices: Sequence[SliceCost],
    *,
    volume: Volume | None,
    blend_score: float | None,
) -> BlendCost:
    """The blend's monthly cost, saving and cost per correct answer against all-closed.

    ``closed`` / ``open_`` give the prices (``price`` or ``self_hosted``) and ``closed.score``
    (all-closed's score); their ``mix`` is not used: each slice's mixes are. ``blend_score`` is the
    blend's (honest) score.
    """
    if any(s.share < 0 for s in slices) or abs(sum(s.share for s in slices) - 1.0) > _SHARE_TOLERANCE:
        raise ValueError("slice shares must be non-negative and sum to 1")
    s_open = sum(s.share for s in slices if s.to_open)
    all_mix = weighted_mix(slices, model="closed", to_open=None)
    kept_mix = weighted_mix(slices, model="closed", to_open=False)
    moved_mix = weighted_mix(slices, model="open", to_open=True)
    requests = requests_per_month(volume, all_mix)
    unknowns: list[str] = []
    for m in (closed, open_):
        if m.kind == "unknown" and (m is closed or s_open > 0):
            unknowns.append(m.unknown_reason or f"no price for {m.model or m.name}: add price: to the suite")
    unknowns += _missing(slices, closed, "closed", None)
    if s_open > 0:
        unknowns += _missing(slices, open_, "open", True)
    if volume is None:
        unknowns.append("no volume: the monthly figures need volume: in the suite")
    elif requests is None:
        unknowns.append(
            "tokens_per_month needs the closed model's measured tokens per request to become requests"
        )
    all_closed = _part(closed, all_mix, requests, 1.0)
    closed_part = _part(closed, kept_mix, requests, 1.0 - s_open)
    open_part = _part(open_, moved_mix, requests, s_open)
    blend = None if closed_part is None or open_part is None else closed_part + open_part
    saving = None if blend is None or all_closed is None else all_closed - blend
    a_all = _per_request(closed, all_mix, 1.0)
    a_kept = _per_request(closed, kept_mix, 1.0 - s_open)
    a_moved = _per_request(open_, moved_mix, s_open)
    blend_per = None if a_kept is None or a_moved is None else (1.0 - s_open) * a_kept + s_open * a_moved
    if requests is not None:
        cpc_all = cost_per_correct(all_closed, requests, closed.score)
        cpc_blend = cost_per_correct(blend, requests, blend_score)
    else:  # linear costs: per correct answer without a volume
        cpc_all = cost_per_correct(a_all, 1.0, closed.score)
        cpc_blend = cost_per_correct(blend_per, 1.0, blend_score)
    return BlendCost(
        requests_per_month=requests,
        open_share=s_open,
        closed_mix_kept=kept_mix,
        open_mix_moved=moved_mix,
        all_closed_monthly_usd=all_closed,
        closed_part_usd=closed_part,
        open_part_usd=open_part,
        blend_monthly_usd=blend,
        saving_usd=saving,
        saving_fraction=None if saving is None or not all_closed else saving / all_closed,
        all_closed_cost_per_correct_usd=cpc_all,
        blend_cost_per_correct_usd=cpc_blend,
        all_closed_per_1k_requests_usd=None if a_all is None else 1000.0 * a_all,
        blend_per_1k_requests_usd=None if blend_per is None else 1000.0 * blend_per,
        unknowns=tuple(dict.fromkeys(unknowns)),
    )
