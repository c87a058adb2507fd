"""Provider batch APIs (``evalkit run --batch``, ``batch: true``) over real HTTP against the test
server's emulation of OpenAI's Files + Batch API and Anthropic's Message Batches.

End to end for both providers (ledger, report, batch price), splitting at tiny limits, partial
failure and expiry (resubmitted once, then errors), cache hits never submitted, ``batch status``,
bad configuration (exit 2, nothing sent), and a kill -9 between submit and download that resumes
polling without paying twice.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.economics import ApiPrice
from evalkit.errors import ConfigError
from evalkit.providers.batch import anthropic_batch, openai_batch
from evalkit.providers.batch.bodies import batch_request_body
from evalkit.providers.batch.split import Limits, limits_for, split
from evalkit.providers.batch.types import BatchLine
from evalkit.providers.pricing import batch_price
from evalkit.rundir.batches import BatchState
from evalkit.testing.server import Rule, TestServer
from evalkit.types import ErrorKind

N = 6
POLL = ["--poll-interval", "0.05"]


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    """Right on every question: 'yes' for odd ones, 'no' for even ones."""
    i = int(messages[-1]["content"].split()[-1])
    return "yes" if i % 2 else "no"


@pytest.fixture
def server():
    with TestServer(responder=_answer, require_key="test-key") as srv:
        srv.batch.controls.complete_after_s = 0.1
        yield srv


def _models(server: TestServer, *, batch: bool | None = True) -> list[dict[str, Any]]:
    flag = {} if batch is None else {"batch": batch}
    return [
        {
            "name": "gpt",
            "model": "openai/gpt-4o-mini",
            "group": "closed",
            "api_base": server.openai_base,
            "api_key_env": "TEST_KEY",
            **flag,
        },
        {
            "name": "claude",
            "model": "anthropic/claude-haiku-4-5",
            "group": "closed",
            "api_base": server.anthropic_base,
            "api_key_env": "TEST_KEY",
            **flag,
        },
        {
            "name": "open",
            "model": "openai/open-model",
            "group": "open",
            "api_base": server.openai_base,
            "api_key_env": "TEST_KEY",
        },
    ]


@pytest.fixture
def suite_path(make_suite, server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "test-key")
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(N)]
    return make_suite(
        rows,
        models=_models(server),
        defaults={"params": {"temperature": 0, "max_tokens": 5}, "max_attempts": 1},
    )


def _run_dir(results: Path) -> Path:
    (run_dir,) = sorted(p for p in results.glob("*/*") if p.is_dir())
    return run_dir


def _ledger(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines() if x.strip()]


def _row(rows: list[dict[str, Any]], model: str, sample: str) -> dict[str, Any]:
    return next(r for r in rows if r["model"] == model and r["sample_id"] == sample)


# --- end to end ---------------------------------------------------------------------------------


def test_both_providers_end_to_end_at_the_batch_price(suite_path, server, results_dir, capsys):
    assert main(["run", str(suite_path), "--no-progress", *POLL]) == 0
    run_dir = _run_dir(results_dir)
    rows = _ledger(run_dir)
    assert Counter(r["model"] for r in rows) == {"gpt": N, "claude": N, "open": N}
    # the closed models went by batch, never live; the open one live
    assert server.stats.by_model == {"open-model": N}
    stats = server.batch.stats()
    assert stats["batches"] == 2 and stats["by_api"] == {"openai": N, "anthropic": N}
    assert set(stats["by_prompt"].values()) == {2}  # each question once per closed model
    for r in rows:
        c = r["completion"]
        assert c["error"] is None and r["scores"]["exact_match"]["value"] == 1.0, r
        assert (c.get("via") == "batch") == (r["model"] != "open")
    # cost: prompt = "Answer yes or no." (4 words) + "question i" (2) = 6 tokens, answer 1 token.
    # gpt-4o-mini batch price (LiteLLM's map): $0.075 / $0.30 per Mtok -> 6 * 0.075e-6 + 0.30e-6
    gpt = _row(rows, "gpt", "s1")["completion"]
    assert (gpt["input_tokens"], gpt["output_tokens"]) == (6, 1)
    assert gpt["cost_usd"] == pytest.approx(6 * 0.075e-6 + 1 * 0.30e-6)
    # claude-haiku-4-5 batch price: $0.50 / $2.50 per Mtok (half of $1 / $5)
    claude = _row(rows, "claude", "s1")["completion"]
    assert claude["cost_usd"] == pytest.approx(6 * 0.5e-6 + 1 * 2.5e-6)
    assert claude["text"] == "yes" and claude["finish_reason"] == "stop"
    # the Anthropic body was built in Anthropic's format (system moved out of the messages)
    with open(run_dir / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert any(s["model"] == "claude" for s in summary)
    assert (run_dir / "report.html").is_file()
    state = json.loads((run_dir / "batches.json").read_text())
    assert {j["status"] for j in state["jobs"]} == {"done"}
    assert {j["provider"] for j in state["jobs"]} == {"openai", "anthropic"}
    # no key in anything evalkit wrote
    for f in run_dir.iterdir():
        assert "test-key" not in f.read_text(errors="replace"), f.name
    out = capsys.readouterr().err
    assert "submitted as batch_" in out and "submitted as msgbatch_" in out


def test_batch_flag_sends_closed_openai_and_anthropic_models_by_batch(
    make_suite, server, results_dir, monkeypatch
):
    monkeypatch.setenv("TEST_KEY", "test-key")
    path = make_suite(models=_models(server, batch=None), defaults={"params": {"max_tokens": 5}})
    assert main(["run", str(path), "--no-progress", "--batch", *POLL]) == 0
    rows = _ledger(_run_dir(results_dir))
    vias = {(r["model"], r["completion"].get("via")) for r in rows}
    assert vias == {("gpt", "batch"), ("claude", "batch"), ("open", None)}
    assert server.stats.by_model == {"open-model": 5}
    # without --batch the same suite is all live
    server.batch.reset()
    assert main(["run", str(path), "--no-progress", "--no-cache"]) == 0
    assert server.batch.stats()["requests"] == 0


def test_anthropic_body_is_litellms_transformation():
    body, dropped = batch_request_body(
        "anthropic/claude-haiku-4-5",
        ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}),
        {"temperature": 0, "max_tokens": 5, "stop": ["\n"], "seed": 3},
    )
    assert body["model"] == "claude-haiku-4-5" and body["max_tokens"] == 5
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert body["stop_sequences"] == ["\n"] and "seed" not in body
    assert dropped == ["seed"]
    body, dropped = batch_request_body(
        "openai/gpt-4o-mini", ({"role": "user", "content": "hi"},), {"seed": 3}
    )
    assert body == {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "seed": 3}
    assert dropped == []


def test_batch_price():
    def rates(p: ApiPrice | None) -> tuple[float, float] | None:
        return None if p is None else (p.input_per_mtok, p.output_per_mtok)

    assert rates(batch_price("openai/gpt-4o-mini", None)) == (0.075, 0.3)  # LiteLLM's *_batches entries
    assert rates(batch_price("anthropic/claude-haiku-4-5", None)) == (0.5, 2.5)
    assert rates(batch_price("openai/gpt-4o-mini", ApiPrice(1.0, 2.0))) == (0.5, 1.0)  # a given price: half
    assert batch_price("openai/no-such-model-anywhere", None) is None  # unknown stays unknown


def test_suite_price_is_halved_for_batches(make_suite, server, results_dir, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "test-key")
    gpt = {**_models(server)[0], "price": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}}
    path = make_suite(models=[gpt], defaults={"params": {"max_tokens": 5}})
    assert main(["run", str(path), "--no-progress", *POLL]) == 0
    row = _ledger(_run_dir(results_dir))[0]["completion"]
    assert row["cost_usd"] == pytest.approx((6 * 1.0 + 1 * 4.0) / 1e6)


# --- splitting ----------------------------------------------------------------------------------


def test_split_by_count_and_bytes():
    lines = [BatchLine(f"c{i}", i, f"s{i}", 0, "k", {}, size=10) for i in range(7)]
    assert [len(c) for c in split(lines, Limits(3, 10_000))] == [3, 3, 1]
    assert [len(c) for c in split(lines, Limits(100, 25))] == [2, 2, 2, 1]
    assert [len(c) for c in split(lines, Limits(100, 35), overhead=5)] == [3, 3, 1]
    with pytest.raises(ConfigError, match="sample s0: its batch request is 10 bytes"):
        list(split(lines, Limits(100, 9)))


def test_limits_are_the_providers_and_env_only_lowers_them(monkeypatch):
    assert limits_for("openai") == Limits(50_000, 200 * 1024 * 1024)
    assert limits_for("anthropic") == Limits(100_000, 256 * 1024 * 1024)
    monkeypatch.setenv("EVALKIT_BATCH_MAX_REQUESTS", "10")
    monkeypatch.setenv("EVALKIT_BATCH_MAX_BYTES", str(10**12))
    assert limits_for("openai") == Limits(10, 200 * 1024 * 1024)
    monkeypatch.setenv("EVALKIT_BATCH_MAX_REQUESTS", "many")
    with pytest.raises(ConfigError, match="EVALKIT_BATCH_MAX_REQUESTS"):
        limits_for("openai")


def test_large_jobs_are_split_to_the_limits(suite_path, server, results_dir, monkeypatch):
    monkeypatch.setenv("EVALKIT_BATCH_MAX_REQUESTS", "4")
    server.batch.controls.max_requests = 4  # the server refuses anything bigger, as providers do
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt,claude", *POLL]) == 0
    stats = server.batch.stats()
    assert stats["batches"] == 4  # 6 = 4 + 2, per model
    assert set(stats["by_prompt"].values()) == {2}
    jobs = json.loads((_run_dir(results_dir) / "batches.json").read_text())["jobs"]
    assert sorted(len(j["requests"]) for j in jobs) == [2, 2, 4, 4]
    assert len(_ledger(_run_dir(results_dir))) == 2 * N


def test_split_by_bytes_end_to_end(suite_path, server, results_dir, monkeypatch):
    # one OpenAI line of this suite is ~230 bytes: 500 bytes hold two, and the server refuses more
    monkeypatch.setenv("EVALKIT_BATCH_MAX_BYTES", "500")
    server.batch.controls.max_bytes = 500
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt", *POLL]) == 0
    jobs = json.loads((_run_dir(results_dir) / "batches.json").read_text())["jobs"]
    assert [len(j["requests"]) for j in jobs] == [2, 2, 2]
    assert server.batch.stats()["requests"] == N
    assert all(r["completion"]["error"] is None for r in _ledger(_run_dir(results_dir)))


# --- failures, expiry, resubmission -------------------------------------------------------------


def test_partial_failure_is_resubmitted_once_then_recorded(suite_path, server, results_dir):
    server.add_rule(Rule(contains="question 3", status=500))  # always fails
    server.add_rule(Rule(contains="question 4", status=529, times=2))  # fails once per model, then answers
    server.add_rule(Rule(contains="question 5", status=400, reply="bad field"))  # not worth a resubmission
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt,claude", *POLL]) == 0
    by_prompt = server.batch.stats()["by_prompt"]
    assert by_prompt["question 3"] == 4 and by_prompt["question 4"] == 4  # twice per model
    assert by_prompt["question 5"] == 2 and by_prompt["question 0"] == 2  # once per model
    rows = _ledger(_run_dir(results_dir))
    assert len(rows) == 2 * N
    for model in ("gpt", "claude"):
        failed = _row(rows, model, "s3")["completion"]
        assert failed["error"]["kind"] == "server" and failed["attempts"] == 2
        recovered = _row(rows, model, "s4")["completion"]
        assert recovered["error"] is None and recovered["text"] == "no" and recovered["attempts"] == 2
        bad = _row(rows, model, "s5")["completion"]
        assert bad["error"]["kind"] == "bad_request" and bad["attempts"] == 1
        assert "bad field" in bad["error"]["message"]
        assert _row(rows, model, "s3")["scores"] == {}


def test_expired_batch_is_resubmitted_once(suite_path, server, results_dir):
    server.batch.controls.expire_batches = 2  # the first batch of each model expires as a whole
    server.batch.controls.expire_contains = {"question 2": 4}  # and question 2 expires on both attempts
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt,claude", *POLL]) == 0
    stats = server.batch.stats()
    assert stats["batches"] == 4
    assert set(stats["by_prompt"].values()) == {4}  # every question twice per model, never a third time
    rows = _ledger(_run_dir(results_dir))
    assert len(rows) == 2 * N
    for r in rows:
        c = r["completion"]
        if r["sample_id"] == "s2":
            assert c["error"]["kind"] == "timeout" and "expired" in c["error"]["message"], c
        else:
            assert c["error"] is None and c["attempts"] == 2


def test_cached_rows_are_not_submitted(suite_path, server, results_dir):
    assert main(["run", str(suite_path), "--no-progress", "--limit", "4", *POLL]) == 0
    assert server.batch.stats()["requests"] == 2 * 4
    first = _run_dir(results_dir)
    server.batch.reset()
    assert main(["run", str(suite_path), "--no-progress", *POLL]) == 0
    assert server.batch.stats()["by_prompt"] == {"question 4": 2, "question 5": 2}
    (newest,) = {p for p in results_dir.glob("*/*") if p.is_dir()} - {first}
    rows = _ledger(newest)
    assert len(rows) == 3 * N
    assert sum(r["completion"]["cached"] for r in rows if r["model"] != "open") == 2 * 4


# --- status, configuration ----------------------------------------------------------------------


def test_batch_status_shows_each_job(suite_path, server, results_dir, capsys):
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt,claude", *POLL]) == 0
    run_dir = _run_dir(results_dir)
    capsys.readouterr()
    assert main(["batch", "status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["job", "provider", "batch"]
    gpt = next(x for x in lines if x.startswith("gpt-1"))
    assert "openai" in gpt and "batch_" in gpt and " done " in gpt and "completed" in gpt
    assert "claude-1" in out and "msgbatch_" in out
    assert "2 job(s), 0 waiting (0 request(s)); the run is finished" in out


def test_batch_status_of_a_folder_without_batches_is_exit_2(tmp_path, capsys):
    assert main(["batch", "status", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "model",
    [
        {"name": "groq-x", "model": "groq/llama-3.3-70b-versatile", "group": "open", "batch": True},
        {"name": "tiny", "model": "local/smollm2-135m-instruct", "group": "open", "batch": True},
    ],
)
def test_batch_on_another_provider_is_a_config_error(make_suite, server, model, capsys):
    path = make_suite(models=[model])
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"model '{model['name']}'" in err and "batch: true needs an openai/ or anthropic/ model" in err
    assert len(err.strip().splitlines()) == 1
    assert server.stats.total == 0 and server.batch.stats()["requests"] == 0


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_poll_interval_is_exit_2(suite_path, server, value, capsys):
    assert main(["run", str(suite_path), "--poll-interval", value]) == 2
    assert server.batch.stats()["requests"] == 0 and server.stats.total == 0


def test_rejected_key_stops_the_model_before_anything_is_recorded(
    make_suite, server, results_dir, monkeypatch
):
    monkeypatch.setenv("TEST_KEY", "wrong-key")
    path = make_suite(models=_models(server)[:1])
    assert main(["run", str(path), "--no-progress", *POLL]) == 3
    run_dir = _run_dir(results_dir)
    assert server.batch.stats()["requests"] == 0
    assert BatchState.load(run_dir).jobs == []  # nothing was sent: a resume with a fixed key submits all


# --- parsing the providers' result lines --------------------------------------------------------

PRICE = ApiPrice(1.0, 2.0)


@pytest.mark.parametrize(
    ("row", "kind", "retryable"),
    [
        (
            {"custom_id": "a", "response": None, "error": {"code": "batch_expired", "message": "late"}},
            "timeout",
            True,
        ),
        (
            {"custom_id": "a", "response": {"status_code": 429, "body": {"error": {"message": "slow"}}}},
            "rate_limit",
            True,
        ),
        (
            {"custom_id": "a", "response": {"status_code": 503, "body": {"error": {"message": "down"}}}},
            "server",
            True,
        ),
        (
            {"custom_id": "a", "response": {"status_code": 400, "body": {"error": {"message": "no"}}}},
            "bad_request",
            False,
        ),
        (
            {
                "custom_id": "a",
                "response": {
                    "status_code": 400,
                    "body": {"error": {"message": "x", "code": "context_length_exceeded"}},
                },
            },
            "context_window",
            False,
        ),
        (
            {"custom_id": "a", "response": {"status_code": 200, "body": {"choices": []}}},
            "bad_response",
            False,
        ),
    ],
)
def test_openai_error_lines(row, kind, retryable):
    r = openai_batch.parse_line(row, PRICE)
    assert r.completion.error is not None and r.completion.error.kind == ErrorKind(kind)
    assert r.retryable is retryable


def test_openai_success_line_is_priced_and_no_usage_is_unknown():
    body = {
        "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
    }
    r = openai_batch.parse_line({"custom_id": "a", "response": {"status_code": 200, "body": body}}, PRICE)
    assert r.completion.text == "hi" and r.completion.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)
    del body["usage"]
    r = openai_batch.parse_line({"custom_id": "a", "response": {"status_code": 200, "body": body}}, PRICE)
    assert r.completion.ok and r.completion.cost_usd is None and r.completion.input_tokens is None


@pytest.mark.parametrize(
    ("result", "kind", "retryable"),
    [
        ({"type": "expired"}, "timeout", True),
        ({"type": "canceled"}, "timeout", True),
        (
            {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
            },
            "server",
            True,
        ),
        (
            {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "rate_limit_error", "message": "x"}},
            },
            "rate_limit",
            True,
        ),
        (
            {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "prompt is too long: 9 tokens"},
                },
            },
            "context_window",
            False,
        ),
        (
            {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "invalid_request_error", "message": "no"}},
            },
            "bad_request",
            False,
        ),
    ],
)
def test_anthropic_error_lines(result, kind, retryable):
    r = anthropic_batch.parse_line({"custom_id": "a", "result": result}, PRICE)
    assert r.completion.error is not None and r.completion.error.kind == ErrorKind(kind)
    assert r.retryable is retryable


def test_anthropic_success_and_refusal_lines():
    message = {
        "content": [{"type": "text", "text": "yes"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    r = anthropic_batch.parse_line(
        {"custom_id": "a", "result": {"type": "succeeded", "message": message}}, PRICE
    )
    assert (r.completion.text, r.completion.finish_reason) == ("yes", "length")
    assert r.completion.cost_usd == pytest.approx((3 * 1.0 + 1 * 2.0) / 1e6)
    refused = {**message, "content": [], "stop_reason": "refusal"}
    r = anthropic_batch.parse_line(
        {"custom_id": "a", "result": {"type": "succeeded", "message": refused}}, PRICE
    )
    assert r.completion.error is not None and r.completion.error.kind == ErrorKind.CONTENT_FILTER


def test_anthropic_sdk_base_drops_v1():
    assert anthropic_batch.sdk_base("http://h:1/v1/messages") == "http://h:1"
    assert anthropic_batch.sdk_base("http://h:1/v1/") == "http://h:1"
    assert anthropic_batch.sdk_base(None) is None


# --- crash and interrupt ------------------------------------------------------------------------


def _spawn(suite_path: Path, results_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EVALKIT_RESULTS_DIR": str(results_dir)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evalkit",
            "run",
            str(suite_path),
            "--no-progress",
            "--models",
            "gpt,claude",
            *POLL,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for_submitted(results_dir: Path, proc: subprocess.Popen[bytes], n_jobs: int) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        for state in results_dir.glob("*/*/batches.json"):
            try:
                jobs = json.loads(state.read_text())["jobs"]
            except ValueError:
                continue
            if sum(j["status"] == "submitted" for j in jobs) >= n_jobs:
                return state.parent
        time.sleep(0.02)
    raise AssertionError("the run never submitted its batches")


@pytest.mark.slow  # a second interpreter importing LiteLLM and both SDKs: ~6-18 s (`make test-slow`)
def test_kill_9_between_submit_and_download_resumes_polling(suite_path, server, results_dir):
    server.batch.controls.complete_after_s = 2.0  # long enough to be killed while polling
    proc = _spawn(suite_path, results_dir)
    try:
        run_dir = _wait_for_submitted(results_dir, proc, 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not (run_dir / "samples.jsonl").exists() or _ledger(run_dir) == []
    assert server.batch.stats()["requests"] == 2 * N
    assert main(["run", "--resume", str(run_dir), "--no-progress", *POLL]) == 0
    stats = server.batch.stats()
    assert stats["batches"] == 2 and stats["requests"] == 2 * N  # polled, never submitted again
    assert set(stats["by_prompt"].values()) == {2}
    rows = _ledger(run_dir)
    cells = Counter((r["sample_id"], r["model"], r["epoch"]) for r in rows)
    assert len(cells) == 2 * N and max(cells.values()) == 1
    assert all(r["completion"]["error"] is None and r["completion"]["via"] == "batch" for r in rows)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow  # a second interpreter: ~6-20 s (`make test-slow`)
def test_sigint_while_polling_exits_130_and_resume_submits_nothing(suite_path, server, results_dir):
    server.batch.controls.complete_after_s = 2.0
    proc = _spawn(suite_path, results_dir)
    try:
        run_dir = _wait_for_submitted(results_dir, proc, 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert f"evalkit run --resume {run_dir}" in err.decode()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert main(["run", "--resume", str(run_dir), "--no-progress", *POLL]) == 0
    assert server.batch.stats()["requests"] == 2 * N
    assert len(_ledger(run_dir)) == 2 * N


def test_sigterm_while_polling_in_process_exits_130_and_resume_pays_nothing_twice(
    suite_path, server, results_dir, capsys
):
    """The same interruption in this process (no second interpreter to start: fast)."""
    import threading

    server.batch.controls.complete_after_s = 1.0
    fired = threading.Event()

    def interrupt_when_submitted() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for state in results_dir.glob("*/*/batches.json"):
                try:
                    jobs = json.loads(state.read_text())["jobs"]
                except ValueError:
                    continue
                if sum(j["status"] == "submitted" for j in jobs) >= 2:
                    fired.set()
                    os.kill(os.getpid(), signal.SIGTERM)  # the runner turns it into an interrupt
                    return
            time.sleep(0.01)

    watcher = threading.Thread(target=interrupt_when_submitted, daemon=True)
    watcher.start()
    code = main(["run", str(suite_path), "--no-progress", "--models", "gpt,claude", *POLL])
    watcher.join()
    assert fired.is_set() and code == 130
    run_dir = _run_dir(results_dir)
    assert f"evalkit run --resume {run_dir}" in capsys.readouterr().err
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    assert main(["batch", "status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 waiting (12 request(s)); the run is interrupted" in out
    assert f"continue polling with: evalkit run --resume {run_dir}" in out
    assert main(["run", "--resume", str(run_dir), "--no-progress", *POLL]) == 0
    stats = server.batch.stats()
    assert stats["batches"] == 2 and set(stats["by_prompt"].values()) == {2}
    assert len(_ledger(run_dir)) == 2 * N


def test_a_job_never_confirmed_is_submitted_again_on_resume(suite_path, server, results_dir):
    """The one window left: killed after recording a job, before the provider's answer."""
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt", "--limit", "1", *POLL]) == 0
    run_dir = _run_dir(results_dir)
    state = BatchState.load(run_dir)
    (job,) = state.jobs
    # rewind: as if killed between recording the job and the provider's answer, before anything landed
    job.status, job.batch_id = "submitting", None
    state.save()
    (run_dir / "samples.jsonl").write_text("")
    server.batch.reset()
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--no-cache", *POLL]) == 0
    assert server.batch.stats()["requests"] == 1
    (row,) = _ledger(run_dir)
    assert row["completion"]["via"] == "batch" and row["completion"]["error"] is None
