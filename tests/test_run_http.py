"""Whole suites through LiteLLM over real HTTP, against evalkit's test server on 127.0.0.1.

Closed (Anthropic and OpenAI wire formats) and open models in one run, the cache (a second
run sends nothing), resume after kill -9, retries, and every exit code.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.testing.server import Rule, TestServer

N = 30


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    """Closed models are always right; the open one is wrong on every third question."""
    i = int(re.search(r"question (\d+)", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    right = "yes" if i % 2 else "no"
    if model.startswith("open") and i % 3 == 0:
        return "maybe"
    return f"{right}"


@pytest.fixture
def server():
    with TestServer(responder=_answer, require_key="test-key") as srv:
        yield srv


@pytest.fixture
def suite_path(make_suite, server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "test-key")
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(N)]
    return make_suite(
        rows,
        models=[
            {
                "name": "claude",
                "model": "anthropic/claude-test",
                "group": "closed",
                "api_base": server.anthropic_base,
                "api_key_env": "TEST_KEY",
            },
            {
                "name": "gpt",
                "model": "openai/closed-gpt",
                "group": "closed",
                "api_base": server.openai_base,
                "api_key_env": "TEST_KEY",
            },
            {
                "name": "open-llama",
                "model": "openai/open-llama",
                "group": "open",
                "api_base": server.openai_base,
                "api_key_env": "TEST_KEY",
                "concurrency": 3,
            },
        ],
        defaults={"params": {"temperature": 0, "max_tokens": 5}, "concurrency": 4, "max_attempts": 3},
        gate={"max_gap": 0.5},
    )


def _run_dirs(results: Path) -> list[Path]:
    return sorted(p for p in results.glob("*/*") if p.is_dir())


def _ledger(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line.strip()]


def test_closed_and_open_models_in_one_run(suite_path, server, results_dir, capsys):
    assert main(["run", str(suite_path), "--no-progress"]) == 0
    (run_dir,) = _run_dirs(results_dir)
    for name in ("report.html", "summary.csv", "gaps.csv", "samples.jsonl", "run.json"):
        assert (run_dir / name).is_file(), name
    rows = _ledger(run_dir)
    assert Counter(r["model"] for r in rows) == {"claude": N, "gpt": N, "open-llama": N}
    assert server.stats.by_model == {"claude-test": N, "closed-gpt": N, "open-llama": N}
    # the open model's concurrency bound held
    assert server.stats.max_in_flight_by_model["open-llama"] <= 3
    scores = {
        m: sum(r["scores"]["exact_match"]["value"] for r in rows if r["model"] == m) / N
        for m in ("claude", "gpt", "open-llama")
    }
    assert scores == {"claude": 1.0, "gpt": 1.0, "open-llama": pytest.approx(20 / 30)}
    wrong = next(r for r in rows if r["model"] == "open-llama" and r["sample_id"] == "s3")
    assert wrong["completion"]["text"] == "maybe" and wrong["completion"]["input_tokens"] > 0
    assert wrong["scores"]["exact_match"]["explanation"]
    with open(run_dir / "gaps.csv", newline="") as f:
        gaps = list(csv.DictReader(f))
    main_gap = next(
        g
        for g in gaps
        if g["open_model"] == "open-llama"
        and g["scorer"] == "exact_match"
        and g.get("slice", "") in ("", "all")
    )
    assert float(main_gap["gap"]) == pytest.approx(10 / 30)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "finished"
    assert manifest["dataset"]["sha256"] and manifest["suite"]["hash"]
    assert manifest["versions"]["litellm"]
    # no key in anything evalkit wrote
    for f in run_dir.iterdir():
        assert "test-key" not in f.read_text(errors="replace"), f.name


def test_second_run_is_served_from_the_cache(suite_path, server, results_dir):
    assert main(["run", str(suite_path), "--no-progress"]) == 0
    sent = server.stats.total
    assert sent == 3 * N
    t0 = time.monotonic()
    assert main(["run", str(suite_path), "--no-progress"]) == 0
    assert server.stats.total == sent, "the cached re-run reached the server"
    first, second = _run_dirs(results_dir)
    assert all(r["completion"]["cached"] for r in _ledger(second))
    assert sorted((r["sample_id"], r["model"], r["completion"]["text"]) for r in _ledger(first)) == sorted(
        (r["sample_id"], r["model"], r["completion"]["text"]) for r in _ledger(second)
    )
    assert time.monotonic() - t0 < 30
    # --no-cache sends again
    assert main(["run", str(suite_path), "--no-progress", "--no-cache", "--models", "gpt"]) == 0
    assert server.stats.total == sent + N


def test_resume_after_kill_9_sends_only_what_is_missing(suite_path, server, results_dir, tmp_path):
    server.latency = 0.15
    env = {**os.environ, "EVALKIT_RESULTS_DIR": str(results_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit", "run", str(suite_path), "--no-progress", "--no-cache"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    ledger = None
    while time.monotonic() < deadline:
        dirs = _run_dirs(results_dir)
        if dirs and (dirs[0] / "samples.jsonl").exists() and len(_ledger(dirs[0])) >= 20:
            ledger = dirs[0] / "samples.jsonl"
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ledger is not None, "the run never got going"
    before = len(ledger.read_text().splitlines())
    assert before < 3 * N, "the run finished before it could be killed"
    sent_before = server.stats.total
    run_dir = ledger.parent
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--no-cache"]) == 0
    rows = _ledger(run_dir)
    cells = Counter((r["sample_id"], r["model"], r["epoch"]) for r in rows)
    assert len(cells) == 3 * N and max(cells.values()) == 1
    # only the missing cells were sent again (plus at most what was in flight at the kill)
    resent = server.stats.total - sent_before
    assert resent == 3 * N - before
    assert server.stats.total <= 3 * N + 4 + 4 + 3
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"


def test_resume_refuses_when_the_data_changed(suite_path, server, results_dir, capsys):
    assert main(["run", str(suite_path), "--no-progress", "--limit", "2"]) == 0
    (run_dir,) = _run_dirs(results_dir)
    data = suite_path.parent / "data.jsonl"
    data.write_text(data.read_text().replace("question 1", "question one"))
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert "changed since this run started" in capsys.readouterr().err


def test_429_with_retry_after_is_retried_once_after_the_wait(suite_path, server, results_dir):
    server.add_rule(
        Rule(contains="question 4", model="closed-gpt", status=429, headers={"Retry-After": "2"}, times=1)
    )
    t0 = time.monotonic()
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt"]) == 0
    assert time.monotonic() - t0 >= 2.0  # the retry waited the server's 2 s
    hits = [b for b in server.stats.bodies if "question 4" in json.dumps(b)]
    assert len(hits) == 2  # exactly one retry
    (run_dir,) = _run_dirs(results_dir)
    row = next(r for r in _ledger(run_dir) if r["sample_id"] == "s4")
    assert row["completion"]["attempts"] == 2 and row["completion"]["error"] is None
    assert row["completion"]["latency_s"] < 1.0  # latency is the answering attempt's, not the wait


def test_400_is_recorded_not_retried(suite_path, server, results_dir):
    server.add_rule(Rule(contains="question 5", status=400, reply="bad request"))
    assert main(["run", str(suite_path), "--no-progress", "--models", "gpt"]) == 0
    assert sum("question 5" in json.dumps(b) for b in server.stats.bodies) == 1
    (run_dir,) = _run_dirs(results_dir)
    row = next(r for r in _ledger(run_dir) if r["sample_id"] == "s5")
    assert row["completion"]["error"]["kind"] == "bad_request" and row["scores"] == {}


def test_every_request_failing_is_an_infrastructure_failure(suite_path, server, results_dir, capsys):
    server.add_rule(Rule(model="open-llama", status=500))
    code = main(["run", str(suite_path), "--no-progress"])
    assert code == 3
    assert "open-llama" in capsys.readouterr().err
    (run_dir,) = _run_dirs(results_dir)
    assert (run_dir / "report.html").is_file()  # the report is still written
    # each failing request was tried max_attempts (3) times, no more
    assert server.stats.by_model["open-llama"] == 3 * N


def test_401_stops_the_model_and_names_the_variable(suite_path, server, results_dir, capsys, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "wrong-key")
    code = main(["run", str(suite_path), "--no-progress", "--models", "gpt"])
    assert code == 3
    err = capsys.readouterr().err
    assert "TEST_KEY" in err and "wrong-key" not in err
    assert server.stats.by_model["closed-gpt"] <= 4  # the in-flight ones at most, not all 30


def test_missing_key_skips_the_model_and_still_reports(suite_path, server, results_dir, capsys, make_suite):
    path = make_suite(
        [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(N)],
        models=[
            {"name": "gpt-real", "model": "openai/gpt-4o-mini", "group": "closed"},
            {
                "name": "open-llama",
                "model": "openai/open-llama",
                "group": "open",
                "api_base": server.openai_base,
                "api_key_env": "TEST_KEY",
            },
        ],
    )
    assert main(["run", str(path), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "skipping gpt-real (openai/gpt-4o-mini): set OPENAI_API_KEY to run this model" in err
    (run_dir,) = _run_dirs(results_dir)
    assert "set OPENAI_API_KEY" in (run_dir / "report.html").read_text()
    assert json.loads((run_dir / "run.json").read_text())["models"][0]["status"] == "skipped"


def test_report_and_gate_from_the_folder_alone(suite_path, server, results_dir, capsys):
    assert main(["run", str(suite_path), "--no-progress"]) == 0
    (run_dir,) = _run_dirs(results_dir)
    (run_dir / "report.html").unlink()
    server.stop()  # no model, no network from here on
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report.html").is_file()
    capsys.readouterr()
    assert main(["gate", str(run_dir)]) == 0  # gap 1/3 <= 0.5
    assert "max_gap" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda p: (p.parent / "data.jsonl").write_text(
                '{"id": "a", "input": "x", "expected": "y"}\n{"id": \n'
            ),
            "data.jsonl:2: invalid JSON",
        ),
        (lambda p: p.write_text(p.read_text() + "colour: blue\n"), "colour: unknown key"),
        (lambda p: (p.parent / "data.jsonl").unlink(), "dataset.path: file not found"),
        (
            lambda p: p.write_text(p.read_text().replace("- exact_match", "- exact_mach")),
            "unknown scorer 'exact_mach'. Did you mean exact_match?",
        ),
    ],
    ids=["broken-jsonl-line", "unknown-suite-key", "missing-dataset", "unknown-scorer"],
)
def test_bad_input_is_one_line_and_exit_2(suite_path, server, mutate, message):
    mutate(suite_path)
    env = {**os.environ, "TEST_KEY": "test-key"}
    proc = subprocess.run(
        [sys.executable, "-m", "evalkit", "run", str(suite_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0] and "Traceback" not in proc.stderr
    assert server.stats.total == 0  # nothing was sent


def test_unreachable_endpoint_fails_fast_naming_it(make_suite, results_dir, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = make_suite(
        models=[
            {"name": "dead", "model": "openai/x", "group": "open", "api_base": f"http://127.0.0.1:{port}/v1"}
        ]
    )
    t0 = time.monotonic()
    assert main(["run", str(path), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert f"dead: http://127.0.0.1:{port}/v1: cannot connect to 127.0.0.1:{port} (connection refused)" in err
    assert time.monotonic() - t0 < 10
    assert not list(results_dir.glob("*/*"))  # no run folder: nothing was started
    assert main(["doctor", str(path)]) == 3
    assert "FAIL  dead" in capsys.readouterr().out


def test_doctor_reports_each_model(suite_path, capsys):
    assert main(["doctor", str(suite_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok  ") == 3 and "accepts connections" in out


def test_always_429_lowers_concurrency_and_bounds_requests(suite_path, server, results_dir, capsys):
    server.add_rule(Rule(model="open-llama", status=429, headers={"Retry-After": "0"}))
    assert main(["run", str(suite_path), "--no-progress", "--models", "open-llama"]) == 3
    # each sample at most max_attempts (3) requests; the bound held
    assert server.stats.by_model["open-llama"] <= N * 3
    assert server.stats.max_in_flight_by_model["open-llama"] <= 3
    (run_dir,) = _run_dirs(results_dir)
    model = json.loads((run_dir / "run.json").read_text())["models"][0]
    assert model["concurrency_seen"]["lowest_limit"] == 1 and model["concurrency_seen"]["throttled"] >= N
    assert {r["completion"]["error"]["kind"] for r in _ledger(run_dir)} == {"rate_limit"}
    assert "open-llama (every request failed)" in capsys.readouterr().err


def test_budget_stops_dispatch_before_the_cap_and_resume_can_raise_it(
    make_suite, server, results_dir, capsys, monkeypatch
):
    monkeypatch.setenv("TEST_KEY", "test-key")
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "no"} for i in range(N)]
    # "Answer yes or no." + "question i" = 6 prompt words -> $0.012 per request at $2,000/Mtok
    path = make_suite(
        rows,
        max_cost_usd=0.1,
        models=[
            {
                "name": "pricey",
                "model": "openai/pricey",
                "group": "closed",
                "api_base": server.openai_base,
                "api_key_env": "TEST_KEY",
                "concurrency": 2,
                "price": {"input_per_mtok": 2000, "output_per_mtok": 0},
            }
        ],
    )
    assert main(["run", str(path), "--no-progress"]) == 3
    assert "budget reached" in capsys.readouterr().err
    (run_dir,) = _run_dirs(results_dir)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "budget_exhausted"
    spent = sum(r["completion"]["cost_usd"] for r in _ledger(run_dir))
    assert spent <= 0.1 + 1e-9 and manifest["budget"]["spent_usd"] == pytest.approx(spent)
    assert 5 <= server.stats.total < N
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--max-cost", "10"]) == 0
    assert len(_ledger(run_dir)) == N


def test_ctrl_c_saves_what_is_done_and_prints_how_to_resume(suite_path, server, results_dir):
    server.latency = 0.1
    env = {**os.environ, "EVALKIT_RESULTS_DIR": str(results_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit", "run", str(suite_path), "--no-cache"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        dirs = _run_dirs(results_dir)
        if dirs and (dirs[0] / "samples.jsonl").exists() and len(_ledger(dirs[0])) >= 10:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (run_dir,) = _run_dirs(results_dir)
    assert f"Resume with: evalkit run --resume {run_dir}" in err
    assert "Traceback" not in err
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    done = len(_ledger(run_dir))
    assert 10 <= done < 3 * N
    assert main(["run", "--resume", str(run_dir), "--no-progress", "--no-cache"]) == 0
    assert len(_ledger(run_dir)) == 3 * N


def test_resume_refuses_when_the_suite_changed(suite_path, server, results_dir, capsys):
    assert main(["run", str(suite_path), "--no-progress", "--limit", "2"]) == 0
    (run_dir,) = _run_dirs(results_dir)
    suite_path.write_text(suite_path.read_text().replace("Answer yes or no.", "Answer yes or no!"))
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert "the suite changed since this run started" in capsys.readouterr().err


def test_run_ids_sort_in_start_order_within_one_second(monkeypatch):
    """Two runs started in the same second must sort in start order: tests and `ls | tail -1` rely on it."""
    from datetime import UTC, datetime

    import evalkit.rundir.manifest as runner

    ticks = iter([datetime(2026, 11, 23, 3, 43, 10, 1000 * ms, tzinfo=UTC) for ms in (5, 17, 998)])

    class Clock:
        @staticmethod
        def now(tz):
            return next(ticks)

    monkeypatch.setattr(runner, "datetime", Clock)
    hexes = iter(["fff0", "0000", "8880"])  # random parts that alone would sort the other way
    monkeypatch.setattr(runner.secrets, "token_hex", lambda n: next(hexes))
    ids = [runner.new_run_id() for _ in range(3)]
    assert ids == ["20261123-034310-005fff", "20261123-034310-017000", "20261123-034310-998888"]
    assert ids == sorted(ids)


def test_the_command_leaves_fast_but_says_everything_and_keeps_its_exit_code(suite_path, server, results_dir):
    """``evalkit`` skips the interpreter's teardown once LiteLLM is loaded (cli.console): the exit
    code, its last line and the report must survive that."""
    env = {**os.environ, "EVALKIT_RESULTS_DIR": str(results_dir)}
    cmd = [sys.executable, "-m", "evalkit", "run", str(suite_path), "--no-progress", "--no-cache"]
    ok = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    (run_dir,) = _run_dirs(results_dir)
    assert json.loads((run_dir / "run.json").read_text())["versions"]["litellm"]  # LiteLLM was loaded
    assert ok.stderr.rstrip().endswith(f"report: {run_dir / 'report.html'}")  # its last line
    assert (run_dir / "report.html").is_file()

    server.add_rule(Rule(model="open-llama", status=400))  # every open-llama request fails (not retried)
    failed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 3, failed.stderr  # as main() returns it
    assert failed.stderr.rstrip().endswith("models failed: open-llama (every request failed)")
