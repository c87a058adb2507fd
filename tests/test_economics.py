"""The economics (evalkit/economics/, docs/economics.md): every formula against a hand-computed
figure, unknown prices staying unknown, LiteLLM's own price, the break-even where the two cost lines
cross, the suite keys and the user price file, time to first token over real HTTP streaming, and the
Economics in summary.json / summary.md / report.html."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from evalkit.config.load import load_suite
from evalkit.config.prices import load_user_prices
from evalkit.economics import (
    ApiPrice,
    MapPrice,
    ModelInput,
    SelfHostedCost,
    TokenMix,
    Volume,
    api_cost_per_request,
    break_even,
    compute_economics,
    cost_per_correct,
    monthly_cost,
    requests_per_month,
    resolve_price,
)
from evalkit.errors import ConfigError
from evalkit.providers.litellm import litellm_price_info
from evalkit.rundir.manifest import Manifest
from tests._runfolder import res, write_run

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "summary.schema.json").read_text(encoding="utf-8"))

MINI = ApiPrice(0.15, 0.6, source="suite")
MIX = TokenMix(1000, 200, 40)  # 1,200 tokens a request
"""A request of 1,000 input and 200 output tokens at $0.15 / $0.60 per Mtok costs
(1000 × 0.15 + 200 × 0.6) / 1e6 = $0.00027."""
A = 0.00027


def _no_map(model: str) -> MapPrice | None:
    return None


def _closed(**kw: Any) -> ModelInput:
    return ModelInput("gpt", "closed", "openai/gpt-4o-mini", price=MINI, mix=MIX, score=0.9, **kw)


OPEN_MIX = TokenMix(1100, 100, 40)  # also 1,200 tokens a request


def _hosted(sh: SelfHostedCost, mix: TokenMix = OPEN_MIX, score: float = 0.8) -> ModelInput:
    return ModelInput("llama", "open", "hosted_vllm/llama", self_hosted=sh, mix=mix, score=score)


# --- formulas, by hand ------------------------------------------------------------------------


def test_self_hosted_rates_by_hand() -> None:
    sh = SelfHostedCost(
        gpu_hourly_usd=2.0, gpus=2, tokens_per_s=1000, engineering_hours_per_month=10, engineer_hourly_usd=100
    )
    assert sh.per_mtok == pytest.approx(4.0 / 3.6e6 * 1e6)  # $4/h over 3.6M tokens/h = $1.111/Mtok
    assert sh.replica_monthly == pytest.approx(2 * 2 * 730)  # 2,920
    assert sh.engineering_monthly == 1000
    assert sh.fixed_monthly == pytest.approx(3920)
    assert sh.capacity_tokens_per_month == pytest.approx(1000 * 3600 * 730)
    # always on: one replica up to its capacity, a second one beyond it
    assert sh.monthly(1e6) == pytest.approx(3920)
    assert sh.monthly(2_628_000_000) == pytest.approx(3920)
    assert sh.monthly(2_628_000_001) == pytest.approx(2 * 2920 + 1000)
    per_use = SelfHostedCost(2.0, 2, 1000, 10, 100, billing="per_use")
    assert per_use.fixed_monthly == 1000
    assert per_use.monthly(9e6) == pytest.approx(9 * 4 / 3.6 + 1000)  # 9 Mtok × $1.111 + $1,000


def test_api_cost_monthly_and_cost_per_correct_by_hand() -> None:
    assert api_cost_per_request(MINI, MIX) == pytest.approx(A)
    assert monthly_cost(_closed(), 1_000_000) == pytest.approx(270.0)
    assert cost_per_correct(270.0, 1_000_000, 0.9) == pytest.approx(0.0003)
    assert cost_per_correct(270.0, 1_000_000, 0.0) is None  # nothing correct: no such cost
    assert cost_per_correct(None, 1_000_000, 0.9) is None


def test_volume_conversions_by_hand() -> None:
    assert requests_per_month(Volume(requests_per_day=10_000), None) == pytest.approx(10_000 * 365 / 12)
    assert requests_per_month(Volume(requests_per_month=8e6), None) == 8e6
    # tokens a month are the baseline's tokens: 12M / 1,200 a request = 10,000 requests
    assert requests_per_month(Volume(tokens_per_month=12e6), MIX) == pytest.approx(10_000)
    assert requests_per_month(Volume(tokens_per_month=12e6), None) is None
    assert requests_per_month(None, MIX) is None


def test_projection_saving_and_table_by_hand() -> None:
    sh = SelfHostedCost(
        1.0, 1, 5000, engineering_hours_per_month=10, engineer_hourly_usd=100, billing="per_use"
    )
    api_open = ModelInput(
        "groq",
        "open",
        "groq/llama",
        price=ApiPrice(0.05, 0.08, source="suite"),
        mix=TokenMix(900, 100),
        score=0.8,
    )
    econ = compute_economics(
        [_closed(), _hosted(sh), api_open], baseline="gpt", volume=Volume(requests_per_month=1e6)
    )
    assert econ.requests_per_month == 1e6
    gpt, llama, groq = econ.models
    assert gpt.monthly_cost_usd == pytest.approx(270.0)
    assert gpt.saving_vs_baseline_usd is None and gpt.break_even is None
    # per_use self-hosted: 1M × 1,200 tokens = 1,200 Mtok × $0.05556 + $1,000 = $1,066.67
    assert llama.self_hosted_per_mtok == pytest.approx(1 / 18e6 * 1e6)
    assert llama.monthly_cost_usd == pytest.approx(1200 / 18 + 1000)
    assert llama.saving_vs_baseline_usd == pytest.approx(270 - (1200 / 18 + 1000))  # negative: costs more
    assert llama.cost_per_correct_usd == pytest.approx((1200 / 18 + 1000) / (1e6 * 0.8))
    # groq: (900 × 0.05 + 100 × 0.08) / 1e6 = $0.000053 a request → $53/month, saves $217
    assert groq.monthly_cost_usd == pytest.approx(53.0)
    assert groq.saving_vs_baseline_usd == pytest.approx(217.0)
    assert groq.break_even is None  # an API open model: not self-hosted, no break-even computed
    assert groq.cost_per_1k_requests_usd == pytest.approx(0.053)
    # the table: 1M tokens in gpt's 1000:200 mix = 833.33 requests × $0.00027 = $0.225
    assert list(gpt.table) == ["1M", "10M", "100M", "1B"]
    assert gpt.table["1M"] == pytest.approx(0.225)
    assert gpt.table["1B"] == pytest.approx(225.0)
    assert llama.table["1B"] == pytest.approx(1000 / 18 + 1000)  # 1,000 Mtok × $0.0556 + engineering


def test_no_volume_gives_cost_per_1k_and_api_cost_per_correct() -> None:
    econ = compute_economics([_closed()], baseline="gpt", volume=None)
    gpt = econ.models[0]
    assert gpt.monthly_cost_usd is None and econ.requests_per_month is None
    assert gpt.cost_per_1k_requests_usd == pytest.approx(0.27)
    assert gpt.cost_per_correct_usd == pytest.approx(A / 0.9)


# --- unknown stays unknown --------------------------------------------------------------------


def test_unknown_price_propagates_as_unknown_everywhere() -> None:
    foo = ModelInput(
        "foo", "open", "openai/foo", mix=MIX, score=0.8, unknown_reason="no price for openai/foo: add price:"
    )
    econ = compute_economics([_closed(), foo], baseline="gpt", volume=Volume(requests_per_month=1e6))
    m = econ.model("foo")
    assert m is not None and m.kind == "unknown"
    assert m.monthly_cost_usd is None and m.saving_vs_baseline_usd is None
    assert m.cost_per_correct_usd is None and m.cost_per_1k_requests_usd is None
    assert set(m.table.values()) == {None}
    assert "no price for openai/foo: add price:" in econ.unknowns


def test_unknown_baseline_leaves_every_saving_unknown() -> None:
    base = ModelInput("gpt", "closed", "openai/gpt", mix=MIX, score=0.9)
    econ = compute_economics(
        [base, _hosted(SelfHostedCost(1.0, 1, 5000))], baseline="gpt", volume=Volume(requests_per_month=1e6)
    )
    llama = econ.model("llama")
    assert llama is not None and llama.monthly_cost_usd == pytest.approx(730.0)
    assert llama.saving_vs_baseline_usd is None
    assert llama.break_even is not None and llama.break_even.requests_per_month is None
    assert "no price for openai/gpt" in econ.unknowns[0]


def test_no_measured_tokens_is_unknown_not_zero() -> None:
    econ = compute_economics(
        [ModelInput("gpt", "closed", "openai/gpt", price=MINI, mix=None, score=0.9)],
        baseline="gpt",
        volume=Volume(requests_per_month=1e6),
    )
    assert econ.models[0].monthly_cost_usd is None
    assert any("no measured token counts for gpt" in u for u in econ.unknowns)


# --- prices -----------------------------------------------------------------------------------


def _map(model: str) -> MapPrice | None:
    return MapPrice(1.0, 2.0, 0.5, 0.4, 0.9) if model == "openai/known" else None


@pytest.mark.parametrize(
    ("model", "suite", "user", "batch", "expected"),
    [
        ("openai/known", None, {}, False, (1.0, 2.0, "LiteLLM price map")),
        ("openai/known", None, {}, True, (0.4, 0.9, "LiteLLM price map, batch rates")),
        (
            "openai/known",
            None,
            {"openai/known": ApiPrice(3, 4, source="user price file p")},
            False,
            (3, 4, "user price file p"),
        ),
        (
            "openai/known",
            ApiPrice(5, 6, source="suite"),
            {"openai/known": ApiPrice(3, 4)},
            False,
            (5, 6, "suite"),
        ),
        ("openai/known", ApiPrice(5, 6, source="suite"), {}, True, (2.5, 3.0, "suite, batch −50 %")),
        ("openai/other", None, {}, False, None),
    ],
)
def test_price_precedence_and_batch(
    model: str,
    suite: ApiPrice | None,
    user: dict[str, ApiPrice],
    batch: bool,
    expected: tuple[float, float, str] | None,
) -> None:
    got = resolve_price(model, suite_price=suite, user_prices=user, litellm_price=_map, batch=batch)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert got.input_per_mtok == pytest.approx(expected[0])
        assert got.output_per_mtok == pytest.approx(expected[1])
        assert got.source == expected[2]
        assert got.batch is batch


def test_litellm_price_of_a_known_model_is_what_evalkit_reports() -> None:
    from evalkit.providers.litellm import litellm_module, litellm_price_info

    entry = litellm_module().model_cost["gpt-4o-mini"]
    info = litellm_price_info("openai/gpt-4o-mini")
    assert info is not None
    assert info.input_per_mtok == pytest.approx(entry["input_cost_per_token"] * 1e6)
    assert info.output_per_mtok == pytest.approx(entry["output_cost_per_token"] * 1e6)
    assert info.batch_input_per_mtok == pytest.approx(entry["input_cost_per_token_batches"] * 1e6)
    assert litellm_price_info("openai/no-such-model-evalkit") is None
    # what the report shows for it: test_reports_carry_the_economics


def test_user_price_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("openai/foo: {input_per_mtok: 1.5, output_per_mtok: 2, cached_input_per_mtok: 0.5}\n")
    monkeypatch.setenv("EVALKIT_PRICES", str(f))
    prices, path = load_user_prices()
    assert path == f
    assert prices["openai/foo"].input_per_mtok == 1.5 and prices["openai/foo"].cached_input_per_mtok == 0.5
    assert prices["openai/foo"].source == f"user price file {f}"
    monkeypatch.setenv("EVALKIT_PRICES", "none")
    assert load_user_prices() == ({}, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openai/foo: {input_per_mtok: 1, output_per_mtok: 2, bogus: 3}\n", "openai/foo.bogus: unknown key"),
        (
            "openai/foo: {input_per_mtok: -1, output_per_mtok: 2}\n",
            "openai/foo.input_per_mtok: Input should be greater",
        ),
        ("openai/foo: {input_per_mtok: 1}\n", "openai/foo.output_per_mtok: required key is missing"),
        ("foo: {input_per_mtok: 1, output_per_mtok: 2}\n", "'foo': not a LiteLLM model string"),
        ("openai/foo: [1, 2\n", "not valid YAML"),
        ("- 1\n", "a price file maps model strings"),
    ],
)
def test_bad_price_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_user_prices(f)
    assert message in exc.value.message and str(f) in exc.value.message
    assert "\n" not in exc.value.message


def test_missing_price_file_named_by_env_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_PRICES", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="price file not found"):
        load_user_prices()


# --- break-even: where the two lines cross ------------------------------------------------------


def _lines(model: ModelInput, base: ModelInput, r: float) -> tuple[float, float]:
    api, hosted = monthly_cost(base, r), monthly_cost(model, r)
    assert api is not None and hosted is not None
    return api, hosted


@pytest.mark.parametrize(
    ("sh", "expected"),
    [
        # per use: R* = E / (a − s) = 1000 / (0.00027 − 1200 × 0.05556e-6) = 4,918,032.8
        (SelfHostedCost(1.0, 1, 5000, 10, 100, billing="per_use"), 1000 / (A - 1200 / 18e6)),
        # always on, one replica: R* = (730 + 1000) / 0.00027 = 6,407,407.4
        (SelfHostedCost(1.0, 1, 5000, 10, 100), 1730 / A),
        # always on, engineering $5,000: k = ceil(5000 / (a·C − G)) = 3 replicas, R* = (3 × 730 + 5000) / a
        (SelfHostedCost(1.0, 1, 5000, 50, 100), (3 * 730 + 5000) / A),
    ],
)
def test_break_even_is_where_the_cost_lines_cross(sh: SelfHostedCost, expected: float) -> None:
    base, model = _closed(), _hosted(sh)
    be = break_even(model, base)
    assert be.requests_per_month == pytest.approx(expected)
    r = be.requests_per_month
    assert r is not None
    assert be.tokens_per_month == pytest.approx(r * 1200)
    api, hosted = _lines(model, base, r)
    assert api == pytest.approx(hosted, rel=1e-9)  # the lines meet here
    api_lo, hosted_lo = _lines(model, base, r * 0.99)
    assert api_lo < hosted_lo  # below it the API is cheaper
    api_hi, hosted_hi = _lines(model, base, r * 1.01)
    assert api_hi > hosted_hi  # above it self-hosting is


def test_break_even_never_when_the_gpu_alone_costs_more() -> None:
    # a fully used replica: $730 for 5000 × 3600 × 730 / 1200 = 10.95M requests → $0.0667 per 1,000 < API's $0.27;
    # a slow one (50 tokens/s): $6.67 per 1,000 requests, more than the API at any volume
    be = break_even(_hosted(SelfHostedCost(1.0, 1, 50)), _closed())
    assert be.requests_per_month is None and be.reason.startswith("never")
    be = break_even(_hosted(SelfHostedCost(1.0, 1, 50, billing="per_use")), _closed())
    assert be.requests_per_month is None and be.reason.startswith("never")
    be = break_even(_hosted(SelfHostedCost(1.0, 1, 5000, billing="per_use")), _closed())
    assert be.requests_per_month == 0 and "every volume" in be.reason


# --- suite keys -------------------------------------------------------------------------------


def test_suite_accepts_volume_self_hosted_and_cached_price(make_suite: Any) -> None:
    path = make_suite(
        models=[
            {
                "name": "c",
                "model": "openai/gpt-4o-mini",
                "group": "closed",
                "price": {"input_per_mtok": 1, "output_per_mtok": 2, "cached_input_per_mtok": 0.5},
            },
            {
                "name": "o",
                "model": "hosted_vllm/llama",
                "group": "open",
                "api_base": "http://x/v1",
                "self_hosted": {
                    "gpu_hourly_usd": 2.5,
                    "gpus": 2,
                    "tokens_per_s": 3000,
                    "engineering_hours_per_month": 20,
                    "engineer_hourly_usd": 120,
                },
            },
        ],
        volume={"requests_per_day": 50000},
    )
    s = load_suite(path).suite
    assert s.volume is not None and s.volume.requests_per_day == 50000
    assert s.models[1].self_hosted is not None and s.models[1].self_hosted.billing == "always_on"
    assert s.models[0].price is not None and s.models[0].price.cached_input_per_mtok == 0.5


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"volume": {"requests_per_day": 5, "tokens_per_month": 9}}, "volume: give exactly one of"),
        ({"volume": {}}, "volume: give exactly one of"),
        ({"volume": {"requests_per_week": 5}}, "volume.requests_per_week: unknown key"),
        ({"volume": {"requests_per_day": -5}}, "volume.requests_per_day: Input should be greater than 0"),
        (
            {
                "models": [
                    {"name": "o", "model": "openai/x", "group": "open", "self_hosted": {"gpu_hourly_usd": 1}}
                ]
            },
            "models.0.self_hosted.tokens_per_s: required key is missing",
        ),
        (
            {
                "models": [
                    {
                        "name": "o",
                        "model": "openai/x",
                        "group": "open",
                        "self_hosted": {"gpu_hourly_usd": 1, "tokens_per_s": 0},
                    }
                ]
            },
            "models.0.self_hosted.tokens_per_s: Input should be greater than 0",
        ),
        (
            {
                "models": [
                    {
                        "name": "o",
                        "model": "openai/x",
                        "group": "open",
                        "price": {"input_per_mtok": 1, "output_per_mtok": 1},
                        "self_hosted": {"gpu_hourly_usd": 1, "tokens_per_s": 10},
                    }
                ]
            },
            "not both",
        ),
    ],
)
def test_bad_economics_keys_are_one_line(make_suite: Any, override: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_suite(make_suite(**override))
    assert message in exc.value.message, exc.value.message


# --- streaming: time to first token over real HTTP ----------------------------------------------


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_ttft_over_http_streaming(api: str) -> None:
    from evalkit.economics import ApiPrice
    from evalkit.providers.litellm import Call, attempt
    from evalkit.testing.server import Rule, TestServer

    with TestServer() as srv:
        srv.add_rule(Rule(reply="one two three four five", latency=0.3, chunk_delay=0.08))
        base = srv.openai_base if api == "openai" else srv.anthropic_base
        call = Call(
            model=f"{api}/any",
            messages=({"role": "user", "content": "say five words"},),
            params={"stream": True},
            api_base=base,
            api_key="k",
            pricing=ApiPrice(1.0, 2.0),
        )
        out = asyncio.run(attempt(call))
        body = srv.stats.bodies[-1]
    c = out.completion
    assert out.error is None and c is not None
    assert body["stream"] is True
    assert c.text == "one two three four five"
    assert c.ttft_s is not None and c.latency_s is not None
    assert c.ttft_s >= 0.3  # the server waited 0.3 s before the first chunk
    assert c.ttft_s < c.latency_s  # and 4 × 0.08 s between the rest (a cold client may find them buffered)
    assert (c.input_tokens, c.output_tokens) == (3, 5)  # the testserver counts words
    assert c.cost_usd == pytest.approx((3 * 1.0 + 5 * 2.0) / 1e6)


def test_stream_without_usage_leaves_tokens_unknown() -> None:
    from evalkit.economics import ApiPrice
    from evalkit.providers.litellm import Call, attempt
    from evalkit.testing.server import Rule, TestServer

    with TestServer() as srv:
        srv.add_rule(Rule(reply="a b"))
        call = Call(
            model="openai/any",
            messages=({"role": "user", "content": "x"},),
            params={"stream": True, "stream_options": {"include_usage": False}},
            api_base=srv.openai_base,
            api_key="k",
            pricing=ApiPrice(1.0, 2.0),
        )
        out = asyncio.run(attempt(call))
    c = out.completion
    assert c is not None and c.text == "a b" and c.ttft_s is not None
    assert c.input_tokens is None and c.output_tokens is None and c.cost_usd is None


def test_ttft_survives_the_ledger_and_old_lines_still_load() -> None:
    from evalkit.rundir.ledger import result_line
    from evalkit.types import Completion, Result

    r = Result("s1", "m", 0, Completion("x", latency_s=1.0, ttft_s=0.25), {}, "k")
    line = json.loads(result_line(r))
    assert line["completion"]["ttft_s"] == 0.25
    assert Result.from_dict(line).completion.ttft_s == 0.25
    old = json.loads(result_line(Result("s1", "m", 0, Completion("x", latency_s=1.0), {}, "k")))
    assert "ttft_s" not in old["completion"]  # unchanged lines for requests that were not streamed
    assert Result.from_dict(old).completion.ttft_s is None
    assert result_line(r) == json.dumps(r.to_dict(), ensure_ascii=False, separators=(",", ":"))


# --- in the reports -----------------------------------------------------------------------------


def _econ_run(tmp_path: Path, *, volume: dict[str, Any] | None, open_model: dict[str, Any]) -> Path:
    rs = []
    for i in range(40):
        rs.append(
            res(f"s{i}", "gpt", 1.0, cost=A, input_tokens=1000, output_tokens=200, latency=0.1 + i / 100)
        )
        rs.append(
            res(
                f"s{i}",
                "llama",
                1.0 if i % 10 else 0.0,
                cost=None,
                input_tokens=1100,
                output_tokens=100,
                latency=1.0,
            )
        )
    run = write_run(
        tmp_path / "results" / "demo" / "run1", rs, gate={"scorer": "exact_match", "max_gap": 0.2}
    )
    manifest = json.loads((run / "run.json").read_text())
    manifest["models"][0]["model"] = "openai/gpt-4o-mini"
    found = litellm_price_info("openai/gpt-4o-mini")  # what the runner records for an API model
    manifest["models"][0]["price_map"] = dataclasses.asdict(found) if found is not None else None
    manifest["models"][1]["model"] = open_model["model"]
    manifest["suite_config"]["models"] = [
        {"name": "gpt", "model": "openai/gpt-4o-mini", "group": "closed", "price": None},
        {"name": "llama", "group": "open", **open_model},
    ]
    if volume is not None:
        manifest["suite_config"]["volume"] = volume
    (run / "run.json").write_text(json.dumps(manifest))
    return run


def test_reports_carry_the_economics(tmp_path: Path) -> None:
    from evalkit.report import write_report

    sh = {
        "gpu_hourly_usd": 1.0,
        "gpus": 1,
        "tokens_per_s": 5000,
        "engineering_hours_per_month": 10,
        "engineer_hourly_usd": 100,
    }
    run = _econ_run(
        tmp_path,
        volume={"requests_per_month": 8_000_000},
        open_model={"model": "hosted_vllm/llama", "self_hosted": sh},
    )
    write_report(run, index=False)
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    econ = doc["economics"]
    assert econ["baseline"] == "gpt" and econ["requests_per_month"] == 8e6
    gpt, llama = econ["models"]
    # gpt-4o-mini from LiteLLM's own map: $0.15 / $0.60 → $0.00027 a request → $2,160 at 8M requests
    assert gpt["price_source"] == "LiteLLM price map" and gpt["input_per_mtok"] == pytest.approx(0.15)
    assert gpt["monthly_cost_usd"] == pytest.approx(2160.0)
    # llama always on: 8M × 1,200 tokens = 9.6e9 < 13.14e9 capacity → one replica $730 + $1,000
    assert llama["monthly_cost_usd"] == pytest.approx(1730.0)
    assert llama["saving_vs_baseline_usd"] == pytest.approx(430.0)
    assert llama["cost_per_correct_usd"] == pytest.approx(1730.0 / (8e6 * 0.9))
    assert llama["break_even"]["requests_per_month"] == pytest.approx(1730 / A)
    assert llama["table_tokens_per_month"]["1B"] == pytest.approx(1730.0)
    # the verdict: −10.0 pp with its interval beside the money
    money = doc["verdict"]["money"]
    assert len(money) == 1 and money[0].startswith("open model llama: −10.0 pp (CI ")
    assert money[0].endswith("saves $430/month at 8M requests/month")
    md = (run / "summary.md").read_text(encoding="utf-8")
    assert "saves $430/month at 8M requests/month" in md and "### Economics" in md
    html = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="economics"' in html and "saves $430/month at 8M requests/month" in html
    assert "LiteLLM price map" in html and "1B tokens/month" in html
    # latency p99 next to p50/p95: 40 latencies 0.10..0.49, p99 = 0.10 + 0.99 × 0.39
    assert doc["models"][0]["latency_p99_s"] == pytest.approx(0.1 + 0.99 * 0.39)
    assert doc["models"][0]["ttft_p50_s"] is None  # nothing was streamed


def test_reports_name_the_unknown_and_fall_back_to_cost_per_1k(tmp_path: Path) -> None:
    from evalkit.report import write_report

    run = _econ_run(
        tmp_path, volume=None, open_model={"model": "openai/no-such-model-evalkit", "price": None}
    )
    write_report(run, index=False)
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    llama = doc["economics"]["models"][1]
    assert (
        llama["kind"] == "unknown"
        and llama["monthly_cost_usd"] is None
        and llama["cost_per_1k_requests_usd"] is None
    )
    assert any("no price for openai/no-such-model-evalkit" in u for u in doc["economics"]["unknowns"])
    (money,) = doc["verdict"]["money"]
    assert money.startswith("open model llama: −10.0 pp (CI ")
    assert money.endswith("), unknown per 1,000 requests (no volume given)")
    gpt = doc["economics"]["models"][0]
    assert gpt["cost_per_1k_requests_usd"] == pytest.approx(0.27) and gpt["monthly_cost_usd"] is None
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "no price for openai/no-such-model-evalkit" in html


def test_streamed_run_end_to_end_records_ttft_and_projects_cost(
    make_suite: Any, results_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``evalkit run`` with ``stream: true`` over real HTTP: ttft in the ledger and summary.json,
    the suite's volume and self_hosted in the Economics."""
    from evalkit.cli import main
    from evalkit.testing.server import Rule, TestServer

    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes"} for i in range(6)]
    with TestServer() as srv:
        srv.add_rule(Rule(reply="yes", latency=0.05))
        path = make_suite(
            rows,
            models=[
                {
                    "name": "gpt",
                    "model": "openai/gpt-4o-mini",
                    "group": "closed",
                    "api_base": srv.openai_base,
                    "api_key_env": "EVALKIT_TEST_KEY",
                    "params": {"stream": True},
                },
                {
                    "name": "llama",
                    "model": "openai/llama",
                    "group": "open",
                    "api_base": srv.openai_base,
                    "self_hosted": {"gpu_hourly_usd": 1.0, "tokens_per_s": 5000, "billing": "per_use"},
                },
            ],
            volume={"requests_per_month": 1_000_000},
        )
        monkeypatch.setenv("EVALKIT_TEST_KEY", "k")
        monkeypatch.setenv("EVALKIT_WORKERS", "0")  # in this process: no worker start-up
        assert main(["run", str(path), "--no-progress"]) == 0
    (run,) = sorted(p for p in results_dir.glob("*/*") if p.is_dir())
    lines = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
    gpt_lines = [x["completion"] for x in lines if x["model"] == "gpt"]
    assert all(c["ttft_s"] >= 0.05 and c["ttft_s"] <= c["latency_s"] for c in gpt_lines)
    assert all("ttft_s" not in x["completion"] for x in lines if x["model"] == "llama")
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    gpt, llama = doc["models"]
    assert gpt["ttft_p50_s"] >= 0.05 and llama["ttft_p50_s"] is None
    econ = {m["name"]: m for m in doc["economics"]["models"]}
    # "Answer yes or no." + "question N" = 6 words in, "yes" = 1 word out (the testserver counts words)
    assert econ["gpt"]["mean_input_tokens"] == 6 and econ["gpt"]["mean_output_tokens"] == 1
    # LiteLLM's $0.15 / $0.60 per Mtok: (6 × 0.15 + 1 × 0.6) / 1e6 × 1M requests = $1.50
    assert econ["gpt"]["monthly_cost_usd"] == pytest.approx(1.5)
    # per use, no engineering: 7 tokens × 1M requests at $1 / 18M tokens = $0.389
    assert econ["llama"]["monthly_cost_usd"] == pytest.approx(7e6 / 18e6)
    assert econ["llama"]["break_even"]["reason"] == "no fixed cost: self-hosting is cheaper at every volume"
    # the run recorded LiteLLM's price in run.json; a re-report uses it and never imports LiteLLM
    from evalkit.providers.litellm import litellm_price_info

    listed = {m["name"]: m for m in json.loads((run / "run.json").read_text())["models"]}
    found = litellm_price_info("openai/gpt-4o-mini")
    assert found is not None and listed["gpt"]["price_map"]["input_per_mtok"] == found.input_per_mtok
    assert "price_map" not in listed["llama"]  # self-hosted: not looked up

    from evalkit.report import write_report  # it cannot look LiteLLM up: the layering contract keeps it out

    write_report(run, index=False)
    again = {m["name"]: m for m in json.loads((run / "summary.json").read_text())["economics"]["models"]}
    assert again["gpt"]["monthly_cost_usd"] == pytest.approx(1.5)


def test_user_price_file_prices_the_run_and_the_report(
    make_suite: Any, results_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A model LiteLLM does not know, priced by the user price file: the ledger's cost and the
    Economics both use it; a broken file stops the run with one line and exit 2."""
    from evalkit.cli import main
    from evalkit.testing.server import Rule, TestServer

    prices = tmp_path / "prices.yaml"
    prices.write_text("openai/house-model: {input_per_mtok: 2, output_per_mtok: 10}\n")
    monkeypatch.setenv("EVALKIT_PRICES", str(prices))
    monkeypatch.setenv("EVALKIT_WORKERS", "0")
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes"} for i in range(3)]
    with TestServer() as srv:
        srv.add_rule(Rule(reply="yes"))
        model = {
            "name": "house",
            "model": "openai/house-model",
            "group": "closed",
            "api_base": srv.openai_base,
        }
        path = make_suite(rows, models=[model])
        assert main(["run", str(path), "--no-progress"]) == 0
        (run,) = sorted(p for p in results_dir.glob("*/*") if p.is_dir())
        lines = [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
        # 6 words in, 1 out: (6 × 2 + 1 × 10) / 1e6
        assert [x["completion"]["cost_usd"] for x in lines] == [pytest.approx(22e-6)] * 3
        doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        (house,) = doc["economics"]["models"]
        assert house["price_source"] == f"user price file {prices}"
        assert house["cost_per_1k_requests_usd"] == pytest.approx(22e-3)

        prices.write_text("openai/house-model: {input_per_mtok: 2, output_per_mtok: 10, typo: 1}\n")
        capsys.readouterr()
        assert main(["run", str(path), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"{prices}: openai/house-model.typo: unknown key" in err


@pytest.mark.parametrize(
    ("cfg", "options", "expected"),
    [
        ({"batch": True}, {}, (0.075, 0.3, "LiteLLM price map, batch rates")),  # LiteLLM's own batch rates
        (
            {},
            {"batch": True},
            (0.075, 0.3, "LiteLLM price map, batch rates"),
        ),  # a --batch run: closed openai/
        (
            {"batch": True, "price": {"input_per_mtok": 1.0, "output_per_mtok": 4.0}},
            {},
            (0.5, 2.0, "suite, batch −50 %"),
        ),
        ({}, {}, (0.15, 0.6, "LiteLLM price map")),
    ],
)
def test_batch_models_are_projected_at_the_batch_price(
    tmp_path: Path, cfg: dict[str, Any], options: dict[str, Any], expected: tuple[float, float, str]
) -> None:
    from evalkit.analysis.aggregate import aggregate
    from evalkit.report.economics_view import run_economics

    run = _econ_run(
        tmp_path, volume={"requests_per_month": 1e6}, open_model={"model": "openai/x", "price": None}
    )
    manifest = json.loads((run / "run.json").read_text())
    manifest["suite_config"]["models"][0].update(cfg)
    manifest["options"] = options
    econ = run_economics(aggregate(run, n_resamples=200), Manifest(manifest), user_prices={})
    gpt = econ.model("gpt")
    assert gpt is not None and gpt.batch is (expected[2] != "LiteLLM price map")
    assert (gpt.input_per_mtok, gpt.output_per_mtok) == pytest.approx(expected[:2])
    assert gpt.price_source == expected[2]
    # 1M × (1000 × in + 200 × out) / 1e6
    assert gpt.monthly_cost_usd == pytest.approx(1000 * expected[0] + 200 * expected[1])


def test_validate_reports_a_broken_price_file(
    make_suite: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from evalkit.cli import main

    prices = tmp_path / "prices.yaml"
    prices.write_text("openai/x: {input_per_mtok: 1}\n")
    monkeypatch.setenv("EVALKIT_PRICES", str(prices))
    assert main(["validate", str(make_suite())]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{prices}: openai/x.output_per_mtok: required key is missing") and "\n" not in err
    prices.write_text("openai/x: {input_per_mtok: 1, output_per_mtok: 2}\n")
    assert main(["validate", str(make_suite())]) == 0


def test_markdown_economics_escapes_names_and_reasons() -> None:
    from evalkit.report.economics_view import economics_markdown
    from evalkit.report.markdown import md_escape

    evil = ModelInput(
        "<b>x|y</b>", "open", "openai/x|y", mix=MIX, score=0.5, unknown_reason="no price for <i>x|y</i>"
    )
    econ = compute_economics([_closed(), evil], baseline="gpt", volume=None)
    text = "\n".join(economics_markdown(econ, md_escape))
    assert "<b>" not in text and "<i>" not in text and "&lt;b&gt;x\\|y&lt;/b&gt;" in text
    rows = [line for line in text.splitlines() if line.startswith("| &lt;b&gt;")]
    assert [row.count(" | ") for row in rows] == [8, 4]  # 9 and 5 columns: no cell split by the name's "|"
    assert "- unknown: no price for &lt;i&gt;x\\|y&lt;/i&gt;" in text
    assert "|\n- unknown" not in text  # the list is its own block, not glued to the table
