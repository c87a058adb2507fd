"""Several api_bases for one model (evalkit.providers.replicas): load spread, fail-over, cache identity, preflight,
and hosted_vllm/ -- real HTTP through LiteLLM to several evalkit.testing.server instances."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import main
from evalkit.config.load import load_suite
from evalkit.config.schema import ModelConfig
from evalkit.errors import ConfigError
from evalkit.providers.doctor import check_endpoints, check_model
from evalkit.providers.litellm import Attempt, Call
from evalkit.providers.replicas import ReplicaSet, identity_base
from evalkit.run.cache import KeyMaker
from evalkit.run.plan import plan_models
from evalkit.testing.server import Rule, TestServer
from evalkit.types import ErrorInfo, ErrorKind

N = 60


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    i = int(re.search(r"question (\d+)", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    return "yes" if i % 2 else "no"


def _rows(n: int = N) -> list[dict[str, Any]]:
    return [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(n)]


@pytest.fixture
def replicas():
    servers = [TestServer(latency=0.02, responder=_answer).start() for _ in range(3)]
    yield servers
    for s in servers:
        s.stop()


def _suite(make_suite, api_base: Any, *, model: str = "openai/open-llama", rows=None, **over: Any) -> Path:
    return make_suite(
        rows or _rows(),
        models=[{"name": "open", "model": model, "group": "open", "api_base": api_base, **over}],
        defaults={"params": {"temperature": 0, "max_tokens": 5}, "concurrency": 6, "max_attempts": 4},
    )


def _only_run(results: Path) -> Path:
    (run_dir,) = sorted(p for p in results.glob("*/*") if p.is_dir())
    return run_dir


def _ledger(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines() if x.strip()]


def _model_entry(run_dir: Path) -> dict[str, Any]:
    manifest = json.loads((run_dir / "run.json").read_text())
    return next(m for m in manifest["models"] if m["name"] == "open")


def _all_right(rows: list[dict[str, Any]], n: int = N) -> None:
    assert sorted(r["sample_id"] for r in rows) == sorted(f"s{i}" for i in range(n))  # none lost, none twice
    assert all(r["completion"]["error"] is None for r in rows)
    assert all(r["scores"]["exact_match"]["value"] == 1.0 for r in rows)


# --- the choice of replica (no network) ---------------------------------------------------------


def test_identity_is_the_single_base_itself_and_order_free_for_several():
    assert identity_base(None) is None
    assert identity_base("http://a/v1") == "http://a/v1"
    assert identity_base(["http://a/v1"]) == "http://a/v1"  # same cache as the plain string
    assert identity_base(["http://b/v1", "http://a/v1"]) == identity_base(["http://a/v1", "http://b/v1"])
    assert identity_base(["http://a/v1", "http://b/v1"]) != identity_base(["http://a/v1", "http://c/v1"])


def test_equal_replicas_take_turns_and_the_least_busy_wins():
    rs = ReplicaSet(["a", "b", "c"])
    assert [rs.pick() for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]
    rs.started("a")
    rs.started("b")
    assert rs.pick() == "c"  # fewest in flight
    rs.started("c")
    rs.started("c")
    assert {rs.pick() for _ in range(4)} == {"a", "b"}


def test_a_failed_replica_cools_down_and_the_retry_avoids_it():
    rs = ReplicaSet(["a", "b"], cooldown_s=60)
    rs.started("a")
    rs.finished("a", Attempt(error=ErrorInfo(ErrorKind.SERVER, "503", 503)))
    assert [rs.pick() for _ in range(3)] == ["b", "b", "b"]
    assert rs.pick(avoid="b") == "a"  # the retry of b's failure goes elsewhere, even to a cooling one
    rs.started("b")
    rs.finished("b", Attempt(error=ErrorInfo(ErrorKind.BAD_REQUEST, "400", 400)))  # not the replica's fault
    assert rs.pick() == "b"
    assert rs.manifest() == [
        {"api_base": "a", "attempts": 1, "ok": 0, "failed": 1},
        {"api_base": "b", "attempts": 1, "ok": 0, "failed": 1},
    ]


def test_the_cooldown_doubles_while_a_replica_keeps_failing_and_a_burst_counts_once():
    rs = ReplicaSet(["a", "b"], cooldown_s=10, max_cooldown_s=25)
    r = rs._by_base["a"]
    down = Attempt(error=ErrorInfo(ErrorKind.CONNECTION, "refused"))

    def fail() -> float:
        rs.started("a")
        rs.finished("a", down)
        return r.cooling_until - time.monotonic()

    assert 9 < fail() <= 10
    assert 9 < fail() <= 10  # in flight when the cooldown began: not a second failure
    r.cooling_until = 0  # the cooldown is over; the probe fails again
    assert 19 < fail() <= 20
    r.cooling_until = 0
    assert 24 < fail() <= 25  # capped
    rs.started("a")
    rs.finished("a", Attempt(completion=None, error=None))
    r.cooling_until = 0
    assert r.streak == 0 and 9 < fail() <= 10  # a success starts over


def test_route_sends_each_attempt_to_its_replica_and_retries_elsewhere():
    seen: list[str | None] = []

    async def send(call: Call) -> Attempt:
        seen.append(call.api_base)
        if call.api_base == "a":
            return Attempt(error=ErrorInfo(ErrorKind.CONNECTION, "refused"))
        return Attempt(error=None, completion=None)

    rs = ReplicaSet(["a", "b"], cooldown_s=0)  # no cooldown: only the per-request memory steers the retry
    routed = rs.route(send)
    call = Call(model="openai/x", messages=(), params={}, api_base="a")
    asyncio.run(routed(call))
    asyncio.run(routed(call))
    assert seen == ["a", "b"]


@pytest.mark.parametrize(
    ("api_base", "message"),
    [
        ([], "empty list"),
        (["http://a/v1", "http://a/v1"], "listed twice"),
        (["http://a/v1", " "], "empty URL"),
    ],
)
def test_bad_replica_lists_are_one_line_config_errors(make_suite, api_base, message):
    path = _suite(make_suite, api_base)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert message in info.value.message and "models.0.api_base" in info.value.message


# --- over HTTP ------------------------------------------------------------------------------------


def test_load_is_spread_across_replicas_through_worker_processes(
    make_suite, replicas, results_dir, monkeypatch
):
    # the attempts run in forked workers: the choice of replica is the parent's
    monkeypatch.setenv("EVALKIT_WORKERS", "2")
    path = _suite(make_suite, [s.openai_base for s in replicas])
    assert main(["run", str(path), "--no-progress"]) == 0
    run_dir = _only_run(results_dir)
    _all_right(_ledger(run_dir))
    served = [s.stats.by_model.get("open-llama", 0) for s in replicas]
    assert sum(served) == N
    assert min(served) >= N // 3 - 4, served  # a fair share each (20 of 60), not all on the first
    entry = _model_entry(run_dir)
    assert [r["api_base"] for r in entry["replicas"]] == [s.openai_base for s in replicas]
    assert [r["attempts"] for r in entry["replicas"]] == served  # run.json says who served what
    assert [r["ok"] for r in entry["replicas"]] == served
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["execution"]["workers"] == 2
    # concurrency (6) is the model's total: least-in-flight over 3 replicas never puts a 3rd on one
    # (that would need 2 on each of the others too: 7 in flight)
    assert max(s.stats.max_in_flight for s in replicas) <= 2


def test_a_replica_failing_503_mid_run_loses_no_sample(make_suite, replicas, results_dir):
    bad = replicas[1]
    answered = Counter[str]()

    def flaky(model: str, messages: list[dict[str, Any]]) -> str:
        answered["n"] += 1
        if answered["n"] == 3:  # from its 4th request on, every request gets a 503
            bad.add_rule(Rule(status=503, reply="overloaded"))
        return _answer(model, messages)

    bad.responder = flaky
    path = _suite(make_suite, [s.openai_base for s in replicas])
    assert main(["run", str(path), "--no-progress"]) == 0
    run_dir = _only_run(results_dir)
    _all_right(_ledger(run_dir))
    entry = {r["api_base"]: r for r in _model_entry(run_dir)["replicas"]}
    failed = entry[bad.openai_base]
    # 3 answers, plus at most the one already waiting when the 503s began (rules are read on arrival)
    assert 3 <= failed["ok"] <= 4 and failed["failed"] >= 1
    assert bad.stats.by_status.get(503, 0) == failed["failed"]
    others = sum(entry[s.openai_base]["ok"] for s in replicas if s is not bad)
    assert others == N - failed["ok"]  # every other answer came from the healthy replicas
    # each 503 was retried once, on another replica (no request needed a third attempt)
    attempts = Counter(r["completion"]["attempts"] for r in _ledger(run_dir))
    assert attempts[2] == failed["failed"] and set(attempts) <= {1, 2}


def test_a_replica_going_away_mid_run_connection_refused(make_suite, replicas, results_dir):
    doomed = replicas[2]
    count = Counter[str]()

    def then_die(model: str, messages: list[dict[str, Any]]) -> str:
        count["n"] += 1
        if count["n"] == 4:
            threading.Thread(target=doomed.stop, daemon=True).start()  # the server goes away mid-run
        return _answer(model, messages)

    doomed.responder = then_die
    doomed_base = doomed.openai_base
    path = _suite(make_suite, [s.openai_base for s in replicas])
    assert main(["run", str(path), "--no-progress"]) == 0
    run_dir = _only_run(results_dir)
    _all_right(_ledger(run_dir))
    entry = {r["api_base"]: r for r in _model_entry(run_dir)["replicas"]}
    # 4 answers, plus at most the 2 in flight while it shut down (6 in flight over 3 replicas: 2 each)
    assert 4 <= entry[doomed_base]["ok"] <= 6 and entry[doomed_base]["failed"] >= 1, entry
    assert sum(r["ok"] for r in entry.values()) == N


def test_cache_hits_whatever_the_order_of_replicas_and_a_one_item_list_is_the_plain_base(
    make_suite, replicas, results_dir
):
    a, b, _ = replicas
    path = _suite(make_suite, [a.openai_base, b.openai_base], rows=_rows(10))
    assert main(["run", str(path), "--no-progress"]) == 0
    assert a.stats.total + b.stats.total == 10
    a.reset_stats()
    b.reset_stats()
    suite = yaml.safe_load(path.read_text())
    suite["models"][0]["api_base"] = [b.openai_base, a.openai_base]
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--no-progress"]) == 0
    assert a.stats.total + b.stats.total == 0  # every answer from the cache
    # a single base, as a string or a one-item list: the same cache entries
    suite["models"][0]["api_base"] = a.openai_base
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--no-progress"]) == 0
    assert a.stats.total == 10
    a.reset_stats()
    suite["models"][0]["api_base"] = [a.openai_base]
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--no-progress"]) == 0
    assert a.stats.total == 0
    runs = sorted(p for p in results_dir.glob("*/*") if p.is_dir())
    assert len(runs) == 4
    assert all(r["completion"]["error"] is None for r in _ledger(runs[-1]))


def test_key_of_a_single_base_is_unchanged(make_suite):
    """The exact cache key of a one-base model is what it was before replicas (existing caches hit)."""
    path = _suite(make_suite, ["http://127.0.0.1:9/v1"])
    loaded = load_suite(path)
    (plan,) = plan_models(loaded.suite, None, path)
    assert plan.identity_base == "http://127.0.0.1:9/v1" and plan.bases == ()
    before = KeyMaker("openai/open-llama", "http://127.0.0.1:9/v1", plan.params)
    after = KeyMaker(plan.identity_model, plan.identity_base, plan.params)
    assert before.key("[]", 0) == after.key("[]", 0)


def test_one_replica_down_is_a_warning_all_down_is_fatal(make_suite, replicas, results_dir, capsys):
    dead = TestServer().start()
    dead_base = dead.openai_base
    dead.stop()  # a port that refuses connections
    up = replicas[0].openai_base
    some = ModelConfig(name="open", model="openai/open-llama", group="open", api_base=[up, dead_base])
    none = ModelConfig(name="gone", model="openai/open-llama", group="open", api_base=[dead_base])
    failed, degraded = check_endpoints([some, none])
    assert [c.model for c in failed] == ["gone"] and [c.model for c in degraded] == ["open"]
    assert dead_base in degraded[0].detail and "1 of 2 replicas down" in degraded[0].detail
    doctor = check_model(some)
    assert doctor.ok and "1 of 2 replicas accept connections" in doctor.detail
    # the run goes on with the live replica, after one warning line
    path = _suite(make_suite, [up, dead_base], rows=_rows(12))
    assert main(["run", str(path), "--no-progress"]) == 0
    out = capsys.readouterr()
    assert f"warning: open: 1 of 2 replicas down, sending to the others: {dead_base}" in out.out + out.err
    _all_right(_ledger(_only_run(results_dir)), n=12)
    # every replica down: exit 3 before anything is sent
    path = _suite(make_suite, [dead_base, dead_base.replace("/v1", "/v2")], rows=_rows(12))
    assert main(["run", str(path), "--no-progress"]) == 3
    assert "nothing was sent" in capsys.readouterr().err


def test_hosted_vllm_end_to_end_over_replicas(make_suite, replicas, results_dir):
    """vLLM's OpenAI server is the OpenAI wire format at <host>/v1: LiteLLM's hosted_vllm/ posts to
    <api_base>/chat/completions with the bare model name and the suite's parameters."""
    a, b, _ = replicas
    path = _suite(
        make_suite,
        [a.openai_base, b.openai_base],
        model="hosted_vllm/Qwen/Qwen2.5-7B-Instruct",
        rows=_rows(8),
    )
    assert main(["run", str(path), "--no-progress"]) == 0
    rows = _ledger(_only_run(results_dir))
    _all_right(rows, n=8)
    served = [s.stats.by_model.get("Qwen/Qwen2.5-7B-Instruct", 0) for s in (a, b)]
    assert sum(served) == 8 and min(served) >= 2, served  # the bare name (no hosted_vllm/), on both
    body = a.stats.bodies[0]
    assert body["model"] == "Qwen/Qwen2.5-7B-Instruct"
    assert body["temperature"] == 0 and body["max_tokens"] == 5
    assert rows[0]["completion"]["input_tokens"] > 0
    # no key configured: the self-hosted placeholder is sent, never a real key
    assert a.stats.headers[0].get("Authorization") == "Bearer sk-evalkit-no-key"
