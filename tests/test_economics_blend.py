"""The cost of a partial migration (evalkit/economics/blend.py): every figure against a hand
calculation, a self-hosted open model paying its replica however little traffic moves, unknown
prices and token counts staying unknown (never $0), and the slice shares of the statistics feeding it."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.economics import ApiPrice, ModelInput, SelfHostedCost, TokenMix, Volume
from evalkit.economics.blend import BlendCost, SliceCost, blend_cost, slice_mixes, weighted_mix
from evalkit.stats.partial import partial_migration
from evalkit.stats.slicing import BlendData

GPT = ModelInput(
    "gpt", "closed", "openai/gpt-4o-mini", price=ApiPrice(0.15, 0.60, source="suite"), score=0.92
)
CHEAP = ModelInput("llama", "open", "together_ai/llama", price=ApiPrice(0.05, 0.10, source="suite"))

# Slice "routine" (60 % of traffic) stays on gpt; slice "short" (40 %) moves to llama.
# gpt on routine: (1000 × 0.15 + 200 × 0.60) / 1e6 = $0.000270 a request
# gpt on short:   ( 500 × 0.15 + 100 × 0.60) / 1e6 = $0.000135
# llama on short: ( 600 × 0.05 + 150 × 0.10) / 1e6 = $0.000045
SLICES = [
    SliceCost("routine", 0.6, False, TokenMix(1000, 200, 60), TokenMix(1100, 220, 60)),
    SliceCost("short", 0.4, True, TokenMix(500, 100, 40), TokenMix(600, 150, 40)),
]


def _cost(**kw: object) -> BlendCost:
    args: dict[str, object] = {"volume": Volume(requests_per_month=1_000_000), "blend_score": 0.90}
    args.update(kw)
    closed = args.pop("closed", GPT)
    open_ = args.pop("open_", CHEAP)
    slices = args.pop("slices", SLICES)
    return blend_cost(closed, open_, slices, **args)  # type: ignore[arg-type]


def test_api_blend_by_hand() -> None:
    c = _cost()
    assert c.requests_per_month == 1_000_000 and c.open_share == pytest.approx(0.4)
    # all-closed at gpt's mix over both slices: 800 in / 160 out = $0.000216 a request
    assert c.all_closed_monthly_usd == pytest.approx(216.0)  # = 0.6 × 270 + 0.4 × 135
    assert c.closed_part_usd == pytest.approx(0.6e6 * 0.000270)  # $162
    assert c.open_part_usd == pytest.approx(0.4e6 * 0.000045)  # $18
    assert c.blend_monthly_usd == pytest.approx(180.0)
    assert c.saving_usd == pytest.approx(36.0) and c.saving_fraction == pytest.approx(36 / 216)
    assert c.all_closed_cost_per_correct_usd == pytest.approx(216 / (1e6 * 0.92))
    assert c.blend_cost_per_correct_usd == pytest.approx(180 / (1e6 * 0.90))  # $0.0002
    assert c.all_closed_per_1k_requests_usd == pytest.approx(0.216)
    assert c.blend_per_1k_requests_usd == pytest.approx(0.18)
    assert c.closed_mix_kept == TokenMix(1000, 200, 60) and c.open_mix_moved == TokenMix(600, 150, 40)
    assert c.unknowns == ()


def test_weighted_mix_by_hand() -> None:
    mix = weighted_mix(SLICES, model="closed", to_open=None)
    assert mix is not None and (mix.mean_input, mix.mean_output) == pytest.approx((800.0, 160.0))
    assert mix.requests == 100
    assert weighted_mix(SLICES, model="open", to_open=True) == TokenMix(600, 150, 40)


def test_slice_mixes_from_ledger_rows_by_hand() -> None:
    """Per slice: mean input over the rows reporting input, mean output over those reporting output."""
    mixes = slice_mixes(
        ["a", "a", "b", None, "c", "a"],
        [100, 300, 50, 999, None, None],
        [10, None, 5, 999, None, 30],
    )
    assert mixes["a"] == TokenMix(200, 20, 2) and mixes["b"] == TokenMix(50, 5, 1)
    assert mixes["c"] is None and set(mixes) == {"a", "b", "c"}  # unknown stays unknown
    with pytest.raises(ValueError, match="one entry per request"):
        slice_mixes(["a"], [1, 2], [1])


def test_a_self_hosted_open_model_pays_its_replica_in_full() -> None:
    """One always-on $1/h GPU + 10 h × $100 engineering = $1,730 a month, however little moves:
    the blend costs $162 + $1,730 = $1,892 against $216, a loss of $1,676."""
    hosted = ModelInput(
        "llama", "open", "hosted_vllm/llama", self_hosted=SelfHostedCost(1.0, 1, 5000, 10, 100)
    )
    c = _cost(open_=hosted)
    assert c.open_part_usd == pytest.approx(730 + 1000)
    assert c.blend_monthly_usd == pytest.approx(162 + 1730)
    assert c.saving_usd == pytest.approx(216 - 1892)
    assert c.blend_per_1k_requests_usd is None  # fixed costs: only at a volume
    per_use = ModelInput(
        "llama", "open", "hosted_vllm/llama", self_hosted=SelfHostedCost(1.0, 1, 5000, billing="per_use")
    )
    # per_use: 0.4M requests × 750 tokens = 3e8 tokens at $1 / 18M tokens = $16.67
    assert _cost(open_=per_use).open_part_usd == pytest.approx(3e8 / (5000 * 3600) * 1.0)


def test_tokens_per_month_become_requests_through_the_closed_models_mix() -> None:
    c = _cost(volume=Volume(tokens_per_month=9.6e8))  # 9.6e8 / 960 tokens a request = 1M requests
    assert c.requests_per_month == pytest.approx(1e6) and c.blend_monthly_usd == pytest.approx(180.0)


@pytest.mark.parametrize(
    ("kw", "unknown", "needle"),
    [
        (
            {"open_": ModelInput("llama", "open", "hosted_vllm/llama")},
            ("open_part_usd", "blend_monthly_usd", "saving_usd"),
            "no price for hosted_vllm/llama",
        ),
        (
            {"closed": ModelInput("gpt", "closed", "openai/x", score=0.9)},
            ("all_closed_monthly_usd", "closed_part_usd", "saving_usd"),
            "no price for openai/x",
        ),
        (
            {"slices": [SLICES[0], SliceCost("short", 0.4, True, TokenMix(500, 100), None)]},
            ("open_part_usd", "blend_monthly_usd", "blend_cost_per_correct_usd"),
            "no measured token counts for llama on slice short",
        ),
        ({"volume": None}, ("all_closed_monthly_usd", "blend_monthly_usd", "saving_usd"), "no volume"),
    ],
    ids=["open-unpriced", "closed-unpriced", "no-open-tokens", "no-volume"],
)
def test_unknown_stays_unknown_never_zero(
    kw: dict[str, object], unknown: tuple[str, ...], needle: str
) -> None:
    c = _cost(**kw)
    for name in unknown:
        assert getattr(c, name) is None, name
    assert any(needle in u for u in c.unknowns), c.unknowns


def test_without_a_volume_an_api_blend_still_has_its_per_request_figures() -> None:
    c = _cost(volume=None)
    assert c.blend_per_1k_requests_usd == pytest.approx(0.18)
    assert c.blend_cost_per_correct_usd == pytest.approx(0.00018 / 0.90)


def test_a_part_with_no_traffic_costs_nothing_even_unpriced() -> None:
    """Nothing moves: no request reaches the open model, so its part is exactly $0 and the blend is all-closed."""
    kept = [
        SliceCost("routine", 0.6, False, TokenMix(1000, 200), None),
        SliceCost("short", 0.4, False, TokenMix(500, 100), None),
    ]
    c = _cost(open_=ModelInput("llama", "open", "hosted_vllm/llama"), slices=kept)
    assert (
        c.open_part_usd == 0.0
        and c.blend_monthly_usd == pytest.approx(216.0)
        and c.saving_usd == pytest.approx(0.0)
    )
    assert c.unknowns == ()


@pytest.mark.parametrize("shares", [(0.6, 0.3), (0.7, 0.4), (-0.1, 1.1)])
def test_shares_must_sum_to_one(shares: tuple[float, float]) -> None:
    slices = [
        SliceCost("a", shares[0], False, TokenMix(1, 1), TokenMix(1, 1)),
        SliceCost("b", shares[1], True, TokenMix(1, 1), TokenMix(1, 1)),
    ]
    with pytest.raises(ValueError, match="sum to 1"):
        _cost(slices=slices)


def test_the_statistics_slice_shares_feed_the_cost() -> None:
    """From a partial migration to its cost: the chosen field's slices, their held-out shares and
    where they go become SliceCost rows (the per-slice token mixes come from the run's ledger)."""
    rng = np.random.default_rng(0)
    n = 2400
    closed = (rng.random(n) < 0.9).astype(float)
    kind = tuple(("easy", "hard")[i % 2] for i in range(n))
    open_ = np.where(np.asarray(kind) == "easy", closed, 0.0)
    data = BlendData(closed, open_, np.arange(n), {"kind": kind}, rng.integers(10, 90, size=n))
    pm = partial_migration(
        data, closed_model="gpt", open_model="llama", max_gap=0.05, buckets=0, n_resamples=1000
    )
    shares = pm.slice_shares()
    assert [(s.label, s.to_open) for s in shares] == [("easy", True), ("hard", False)]
    assert pm.example_slices() == kind
    mixes = {
        "easy": (TokenMix(500, 100), TokenMix(600, 150)),
        "hard": (TokenMix(1000, 200), TokenMix(1100, 220)),
    }
    rows = [SliceCost(s.label, s.share, s.to_open, *mixes[s.label]) for s in shares]
    assert pm.honest is not None
    c = blend_cost(
        GPT, CHEAP, rows, volume=Volume(requests_per_day=10_000), blend_score=pm.honest.score.estimate
    )
    assert c.open_share == pytest.approx(0.5) and c.saving_usd is not None and c.saving_usd > 0
