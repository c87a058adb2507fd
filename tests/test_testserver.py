"""evalkit.testing.server over real HTTP: SDK clients, LiteLLM, scripted rules, stats, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

import evalkit.testing.stats as ts
from evalkit.testing.server import Rule, TestServer

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

ROOT = Path(__file__).resolve().parent.parent
HTTP = httpx.Client(timeout=5.0)
"""One client for the whole file: building one per request costs ~50 ms (TLS context)."""


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture
def srv() -> Iterator[TestServer]:
    with TestServer() as server:
        yield server


@pytest.fixture(scope="module")
def litellm() -> Any:
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def post(srv: TestServer, api: str, text: str = "hello there", model: str = "m", **kw: Any) -> httpx.Response:
    """One chat request in the API's own shape."""
    messages = [{"role": "user", "content": text}]
    if api == "openai":
        return HTTP.post(
            f"{srv.openai_base}/chat/completions", json={"model": model, "messages": messages}, **kw
        )
    body = {"model": model, "messages": messages, "max_tokens": 10}
    return HTTP.post(f"{srv.url}/v1/messages", json=body, **kw)


def text_of(api: str, body: dict[str, Any]) -> str | None:
    """The reply text of a successful body, ``None`` when there is none."""
    if api == "openai":
        return body["choices"][0]["message"]["content"] if body["choices"] else None
    return body["content"][0]["text"] if body["content"] else None


def wait_until(cond: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- shapes, through the providers' own SDKs --------------------------------------


def test_openai_sdk_shape(srv: TestServer) -> None:
    client = openai.OpenAI(base_url=srv.openai_base, api_key="k", max_retries=0)
    r = client.chat.completions.create(
        model="gpt-fake",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi you"}],
    )
    assert r.object == "chat.completion" and r.id and r.created
    assert r.model == "gpt-fake"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == "ok"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (4, 1, 5)
    assert "gpt-fake" in [m.id for m in client.models.list()]


def test_anthropic_sdk_shape(srv: TestServer) -> None:
    client = anthropic.Anthropic(base_url=srv.anthropic_base, api_key="k", max_retries=0)
    r = client.messages.create(
        model="claude-fake",
        system="be brief",
        max_tokens=10,
        messages=[{"role": "user", "content": "hi you"}],
    )
    assert (r.type, r.role, r.model, r.stop_reason) == ("message", "assistant", "claude-fake", "end_turn")
    assert r.content[0].type == "text" and r.content[0].text == "ok"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (4, 1)
    assert {k.lower(): v for k, v in srv.stats.headers[-1].items()}["authorization"] == "Bearer k"


@pytest.mark.parametrize(
    ("api", "error"), [("openai", openai.RateLimitError), ("anthropic", anthropic.RateLimitError)]
)
def test_sdk_errors_are_provider_shaped(srv: TestServer, api: str, error: type[Exception]) -> None:
    srv.add_rule(Rule(status=429, headers={"Retry-After": "2"}, reply="slow down"))
    client: Any = (
        openai.OpenAI(base_url=srv.openai_base, api_key="k", max_retries=0)
        if api == "openai"
        else anthropic.Anthropic(base_url=srv.anthropic_base, api_key="k", max_retries=0)
    )
    with pytest.raises(error) as info:
        if api == "openai":
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        else:
            client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert "slow down" in str(info.value)
    assert info.value.response.headers["retry-after"] == "2"  # type: ignore[attr-defined]
    assert srv.stats.total == 1


# -- LiteLLM: the documented api_base values, and how it maps our errors -----------

MODELS = {"openai": "openai/gpt-fake", "anthropic": "anthropic/claude-fake"}


@pytest.mark.parametrize(
    ("api", "base"),
    [("openai", "openai_base"), ("anthropic", "anthropic_base"), ("anthropic", "openai_base")],
    ids=["openai", "anthropic", "anthropic-via-v1-v1"],
)
def test_litellm_reaches_the_server(litellm: Any, api: str, base: str) -> None:
    with TestServer(responder=lambda model, messages: f"{model}|{messages[-1]['content']}") as srv:
        r = asyncio.run(
            litellm.acompletion(
                model=MODELS[api],
                api_base=getattr(srv, base),
                api_key="k",
                messages=[{"role": "user", "content": "two words"}],
                max_tokens=10,
                num_retries=0,
                max_retries=0,
            )
        )
        assert r.choices[0].message.content == f"{MODELS[api].split('/')[1]}|two words"
        assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (2, 2)
        assert srv.stats.total == 1


SLOW_DOWN = Rule(status=429, headers={"Retry-After": "2"})
TOO_LONG = Rule(status=400, error_code="context_length_exceeded")


@pytest.mark.parametrize(
    ("api", "rule", "error", "status"),
    [
        ("openai", SLOW_DOWN, "RateLimitError", 429),
        ("anthropic", SLOW_DOWN, "RateLimitError", 429),
        ("openai", TOO_LONG, "ContextWindowExceededError", 400),
        ("anthropic", TOO_LONG, "ContextWindowExceededError", 400),
        ("openai", Rule(status=503), "ServiceUnavailableError", 503),
        ("anthropic", Rule(raw_body="<html>bad gateway</html>", status=502), "BadGatewayError", 502),
    ],
)
def test_litellm_maps_scripted_errors_with_one_request(
    litellm: Any, srv: TestServer, api: str, rule: Rule, error: str, status: int
) -> None:
    srv.add_rule(rule)
    base = srv.openai_base if api == "openai" else srv.anthropic_base
    call = litellm.acompletion(
        model=MODELS[api], api_base=base, api_key="k", messages=[{"role": "user", "content": "x"}],
        max_tokens=10, num_retries=0, max_retries=0,
    )  # fmt: skip
    with pytest.raises(getattr(litellm, error)) as info:
        asyncio.run(call)
    assert info.value.status_code == status
    if "Retry-After" in rule.headers:  # litellm keeps the real headers here, not on .response
        assert info.value.litellm_response_headers["retry-after"] == "2"
    assert srv.stats.total == 1  # retries off means one request, for both providers


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize(("key", "ok"), [("sekret", True), ("wrong", False)])
def test_litellm_sends_the_key_require_key_checks(litellm: Any, api: str, key: str, ok: bool) -> None:
    with TestServer(require_key="sekret") as srv:
        call = litellm.acompletion(
            model=MODELS[api], api_base=srv.openai_base if api == "openai" else srv.anthropic_base, api_key=key,
            messages=[{"role": "user", "content": "x"}], max_tokens=10, num_retries=0, max_retries=0,
        )  # fmt: skip
        if ok:
            assert asyncio.run(call).choices[0].message.content == "ok"
        else:
            with pytest.raises(litellm.AuthenticationError):
                asyncio.run(call)
        assert srv.stats.total == 1


# -- rule effects, over plain HTTP ---------------------------------------------------

Check = Callable[[str, httpx.Response], None]


def is_error(status: int, kind: str, code: str | None = None) -> Check:
    def check(api: str, r: httpx.Response) -> None:
        assert r.status_code == status
        body = r.json()
        assert body["error"]["type"] == kind
        if api == "anthropic":
            assert body["type"] == "error"
        else:
            assert body["error"]["code"] == code

    return check


def is_raw(status: int, text: str) -> Check:
    def check(api: str, r: httpx.Response) -> None:
        assert (r.status_code, r.text, r.headers["content-type"]) == (status, text, "text/html")

    return check


SAME = object()


def has(openai_path: str, anthropic_path: str, openai_value: Any, anthropic_value: Any = SAME) -> Check:
    """A 200 whose body holds the value at a dotted path (a missing key reads as ``"<missing>"``)."""

    def check(api: str, r: httpx.Response) -> None:
        assert r.status_code == 200
        node: Any = r.json()
        for key in (openai_path if api == "openai" else anthropic_path).split("."):
            node = node[int(key)] if isinstance(node, list) else node.get(key, "<missing>")
        assert node == (openai_value if api == "openai" or anthropic_value is SAME else anthropic_value)

    return check


OPENAI_TEXT, ANTHROPIC_TEXT = "choices.0.message.content", "content.0.text"
OPENAI_FINISH, ANTHROPIC_STOP = "choices.0.finish_reason", "stop_reason"

RULE_EFFECTS: list[tuple[str, Rule, Check]] = [
    ("reply", Rule(reply="forty two"), has(OPENAI_TEXT, ANTHROPIC_TEXT, "forty two")),
    ("429", Rule(status=429, headers={"Retry-After": "2"}), is_error(429, "rate_limit_error", "rate_limit_exceeded")),
    ("500", Rule(status=500), is_error(500, "api_error")),
    ("529", Rule(status=529), is_error(529, "overloaded_error")),
    ("context", Rule(status=400, error_code="context_length_exceeded"),
     is_error(400, "invalid_request_error", "context_length_exceeded")),
    ("html 200", Rule(raw_body="<html>hi</html>"), is_raw(200, "<html>hi</html>")),
    ("html 502", Rule(raw_body="<h1>502</h1>", status=502), is_raw(502, "<h1>502</h1>")),
    ("content null", Rule(content_null=True), has("choices.0.message.content", "content", None, [])),
    ("no choices", Rule(no_choices=True), has("choices", "content", [])),
    ("length", Rule(finish_reason="length"), has(OPENAI_FINISH, ANTHROPIC_STOP, "length", "max_tokens")),
    ("filter", Rule(finish_reason="content_filter"), has(OPENAI_FINISH, ANTHROPIC_STOP, "content_filter", "refusal")),
    ("omit usage", Rule(omit_usage=True), has("usage", "usage", "<missing>")),
    ("refusal", Rule(refusal="I can't"), has("choices.0.message.refusal", ANTHROPIC_STOP, "I can't", "refusal")),
    ("refusal content", Rule(refusal="I can't"), has("choices.0.message.content", "content", None, [])),
    ("usage", Rule(reply="a b c"), has("usage.completion_tokens", "usage.output_tokens", 3)),
]  # fmt: skip


@pytest.mark.parametrize("api", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("rule", "check"), [row[1:] for row in RULE_EFFECTS], ids=[row[0] for row in RULE_EFFECTS]
)
def test_rule_effects(srv: TestServer, api: str, rule: Rule, check: Check) -> None:
    srv.add_rule(rule)
    r = post(srv, api)
    check(api, r)
    for key, value in rule.headers.items():
        assert r.headers[key] == value
    assert srv.stats.total == 1
    assert srv.stats.by_status == {r.status_code: 1}


@pytest.mark.parametrize(
    ("rule", "api", "text", "model", "reply"),
    [
        (Rule(model="a", reply="hit"), "openai", "x", "a", "hit"),
        (Rule(model="a", reply="hit"), "openai", "x", "b", "ok"),
        (Rule(contains="needle", reply="hit"), "anthropic", "a needle here", "m", "hit"),
        (Rule(contains="needle", reply="hit"), "anthropic", "a haystack", "m", "ok"),
        (Rule(api="anthropic", reply="hit"), "anthropic", "x", "m", "hit"),
        (Rule(api="anthropic", reply="hit"), "openai", "x", "m", "ok"),
        (Rule(model="a", contains="x", api="openai", reply="hit"), "openai", "x", "a", "hit"),
    ],
)
def test_rule_matching(srv: TestServer, rule: Rule, api: str, text: str, model: str, reply: str) -> None:
    srv.add_rule(rule)
    assert text_of(api, post(srv, api, text, model).json()) == reply


def test_first_matching_rule_with_times_left_wins(srv: TestServer) -> None:
    srv.add_rule(Rule(status=429, times=1))
    srv.add_rule(Rule(reply="second", times=2))
    srv.add_rule(Rule(reply="third"))
    answers = [post(srv, "openai") for _ in range(4)]
    assert [r.status_code for r in answers] == [429, 200, 200, 200]
    assert [text_of("openai", r.json()) for r in answers[1:]] == ["second", "second", "third"]
    srv.clear_rules()
    assert text_of("openai", post(srv, "openai").json()) == "ok"
    assert srv.stats.by_status == {429: 1, 200: 4}


@pytest.mark.parametrize(
    ("responder", "answers", "text", "reply"),
    [
        (None, None, "anything", "ok"),
        (None, {"capital of France": "Paris", "2+2": "4"}, "What is 2+2?", "4"),
        (None, {"capital of France": "Paris"}, "unrelated", "ok"),
        (lambda model, messages: f"{model}:{len(messages)}", {"x": "no"}, "x", "m:1"),
    ],
)
def test_default_answer(responder: Any, answers: dict[str, str] | None, text: str, reply: str) -> None:
    with TestServer(responder=responder, answers=answers) as srv:
        assert text_of("openai", post(srv, "openai", text).json()) == reply


def timed(fn: Callable[[], object]) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def test_latency_rule_overrides_server_latency() -> None:
    with TestServer(latency=0.3) as srv:
        srv.add_rule(Rule(contains="fast", latency=0.0))
        assert timed(lambda: post(srv, "openai", "fast")) < 0.2
        assert timed(lambda: post(srv, "openai", "slow")) >= 0.3


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_hang_lasts_until_the_client_gives_up(srv: TestServer, api: str) -> None:
    srv.add_rule(Rule(hang=True))
    with pytest.raises(httpx.ReadTimeout):
        post(srv, api, timeout=0.3)
    wait_until(lambda: srv.stats.in_flight == 0)
    assert (srv.stats.total, srv.stats.by_status) == (1, {})


def test_hung_requests_end_when_the_server_stops() -> None:
    srv = TestServer().start()
    srv.add_rule(Rule(hang=True))
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, srv, "openai", timeout=5)
        wait_until(lambda: srv.stats.in_flight == 1)
        assert timed(srv.stop) < 1
        with pytest.raises(httpx.RemoteProtocolError):
            pending.result()


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_drop_connection(srv: TestServer, api: str) -> None:
    srv.add_rule(Rule(drop_connection=True, times=1))
    with pytest.raises(httpx.RemoteProtocolError):
        post(srv, api)
    assert post(srv, api).status_code == 200
    assert (srv.stats.total, srv.stats.by_status, srv.stats.in_flight) == (2, {200: 1}, 0)


def test_invalid_body_is_a_counted_400(srv: TestServer) -> None:
    r = HTTP.post(f"{srv.openai_base}/chat/completions", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert srv.stats.bodies == ["{not json"] and srv.stats.by_model == {"": 1}


# -- server-wide options ----------------------------------------------------------


@pytest.mark.parametrize(
    ("api", "headers", "status"),
    [
        ("openai", {}, 401),
        ("openai", {"Authorization": "Bearer wrong"}, 401),
        ("openai", {"Authorization": "Bearer sekret"}, 200),
        ("openai", {"x-api-key": "sekret"}, 401),
        ("anthropic", {}, 401),
        ("anthropic", {"x-api-key": "wrong"}, 401),
        ("anthropic", {"x-api-key": "sekret"}, 200),
        ("anthropic", {"Authorization": "Bearer sekret"}, 200),
        ("anthropic", {"Authorization": "Bearer wrong", "x-api-key": "sekret"}, 200),
    ],
)
def test_require_key(api: str, headers: dict[str, str], status: int) -> None:
    with TestServer(require_key="sekret") as srv:
        r = post(srv, api, headers=headers)
        assert r.status_code == status
        if status == 401:
            assert r.json()["error"]["type"] == "authentication_error"
        assert srv.stats.by_status == {status: 1}


def test_rate_limit_answers_429_with_retry_after() -> None:
    with TestServer(rate_limit_per_minute=2) as srv:
        assert [post(srv, "openai").status_code for _ in range(2)] == [200, 200]
        r = post(srv, "anthropic")
        assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
        assert 59 <= int(r.headers["Retry-After"]) <= 60
        assert 59_000 < int(r.headers["retry-after-ms"]) <= 60_000  # the exact wait, in ms
        assert srv.stats.by_status == {200: 2, 429: 1}
        srv.reset_stats()
        assert post(srv, "openai").status_code == 200


def test_rate_limit_can_answer_whole_seconds_only() -> None:
    with TestServer(rate_limit_per_minute=1, rate_limit_window_s=0.3, retry_after_ms=False) as srv:
        assert post(srv, "openai").status_code == 200
        r = post(srv, "openai")
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "1"  # 0.3 s rounds up to the whole second, at least 1
        assert "retry-after-ms" not in r.headers


# -- stats ------------------------------------------------------------------------


async def _burst(srv: TestServer, models: list[str]) -> list[int]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as client:
        rs = await asyncio.gather(
            *(
                client.post(
                    f"{srv.openai_base}/chat/completions",
                    json={"model": m, "messages": [{"role": "user", "content": "hi"}]},
                )
                for m in models
            )
        )
    return [r.status_code for r in rs]


def test_stats_measure_concurrency_per_model() -> None:
    with TestServer(latency=0.2) as srv:
        t0 = time.monotonic()
        assert asyncio.run(_burst(srv, ["a"] * 6 + ["b"] * 4)) == [200] * 10
        assert time.monotonic() - t0 < 1.0
        stats = srv.stats
        assert (stats.total, stats.in_flight, stats.max_in_flight) == (10, 0, 10)
        assert stats.by_model == {"a": 6, "b": 4} and stats.max_in_flight_by_model == {"a": 6, "b": 4}
        assert stats.by_status == {200: 10}
        assert len(stats.bodies) == len(stats.headers) == 10
        assert stats.headers[0]["Content-Type"] == "application/json"
        srv.reset_stats()
        assert srv.stats.total == srv.stats.max_in_flight == 0 and srv.stats.bodies == []


def test_bodies_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ts, "KEEP_LAST", 3)
    with TestServer() as srv:
        for i in range(5):
            post(srv, "openai", f"n{i}")
        assert [b["messages"][0]["content"] for b in srv.stats.bodies] == ["n2", "n3", "n4"]
        assert len(srv.stats.headers) == 3 and srv.stats.total == 5


# -- control endpoints and the command line --------------------------------------


def test_control_endpoints(srv: TestServer) -> None:
    rules = {"clear": True, "rules": [{"contains": "boom", "status": 503, "times": 1}, {"reply": "scripted"}]}
    assert HTTP.post(f"{srv.url}/_evalkit/script", json=rules).json() == {"ok": True, "added": 2}
    assert post(srv, "openai", "boom").status_code == 503
    assert text_of("anthropic", post(srv, "anthropic", "boom").json()) == "scripted"
    stats = HTTP.get(f"{srv.url}/_evalkit/stats").json()
    assert (stats["total"], stats["by_status"], stats["by_model"]) == (2, {"503": 1, "200": 1}, {"m": 2})
    assert HTTP.post(f"{srv.url}/_evalkit/reset").status_code == 200
    assert HTTP.get(f"{srv.url}/_evalkit/stats").json()["total"] == 0


@pytest.mark.parametrize(
    ("script", "error"),
    [({"rules": [{"stauts": 500}]}, "stauts"), ([{"status": 500}], "expected"), ({"rules": {}}, "expected")],
)
def test_bad_scripts_are_rejected(srv: TestServer, script: Any, error: str) -> None:
    bad = HTTP.post(f"{srv.url}/_evalkit/script", json=script)
    assert bad.status_code == 400 and error in bad.json()["error"]


def test_rule_from_dict_rejects_unknown_fields() -> None:
    assert Rule.from_dict({"status": 429, "headers": {"Retry-After": "1"}}) == Rule(
        status=429, headers={"Retry-After": "1"}
    )
    with pytest.raises(ValueError, match="repyl"):
        Rule.from_dict({"repyl": "x"})


def test_command_line_server(tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_text('{"contains": "capital", "reply": "Paris"}\n\n', encoding="utf-8")
    cmd = [sys.executable, "-m", "evalkit.testing", "--port", "0", "--answers", str(answers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr and proc.stderr.read()
        message = {"role": "user", "content": "the capital?"}
        r = HTTP.post(f"{url}/v1/chat/completions", json={"model": "m", "messages": [message]})
        assert r.json()["choices"][0]["message"]["content"] == "Paris"
        assert HTTP.get(f"{url}/_evalkit/stats").json()["total"] == 1
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
