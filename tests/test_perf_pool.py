"""The worker pool: attempts run in forked processes, everything with state stays in the parent.

A run with workers writes the same ledger as one without; a worker that dies costs its attempts
in flight one retry each, never a sample; workers never outlive their run, even a kill -9."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.providers.litellm import Call
from evalkit.providers.pool import MAX_WORKERS, WorkerPool, pool_size
from evalkit.providers.retry import RetryPolicy, complete
from evalkit.testing.server import TestServer
from evalkit.types import Request

N = 24


def _ledger(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines() if line]


def _suite(make_suite, srv: TestServer, n: int = N, concurrency: int = 4):
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(n)]
    models = [
        {"name": name, "model": f"openai/{name}", "group": group, "api_base": srv.openai_base}
        for name, group in (("closed-a", "closed"), ("open-b", "open"))
    ]
    return make_suite(rows, models=models, defaults={"concurrency": concurrency, "params": {"max_tokens": 4}})


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    return "yes" if int(messages[-1]["content"].split()[-1]) % 2 else "no"


@pytest.mark.parametrize(
    ("requested", "env", "cores", "in_flight", "to_send", "expected"),
    [
        (None, None, 2, 64, 2000, 2),
        (None, None, 16, 64, 2000, MAX_WORKERS),
        (None, None, 1, 64, 2000, 0),  # one core: nothing to spread over
        (None, None, 2, 16, 2000, 0),  # few in flight: one process keeps up
        (None, None, 2, 64, 100, 0),  # a small run: not worth a fork
        (None, "3", 2, 4, 10, 3),  # $EVALKIT_WORKERS wins over the heuristic
        (None, "0", 2, 64, 2000, 0),
        (1, "3", 2, 64, 2000, 1),  # the option wins over the variable
        (None, "lots", 2, 64, 2000, 2),  # unreadable: ignored
    ],
)
def test_pool_size(monkeypatch, requested, env, cores, in_flight, to_send, expected):
    if env is None:
        monkeypatch.delenv("EVALKIT_WORKERS", raising=False)
    else:
        monkeypatch.setenv("EVALKIT_WORKERS", env)
    assert pool_size(requested, cores=cores, in_flight=in_flight, to_send=to_send) == expected


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_ledger_is_the_same_with_and_without_workers(make_suite, results_dir, monkeypatch, workers):
    monkeypatch.setenv("EVALKIT_WORKERS", workers)
    with TestServer(responder=_answer) as srv:
        path = _suite(make_suite, srv)
        assert main(["run", str(path), "--no-progress", "--no-cache"]) == 0
        assert srv.stats.total == 2 * N
    (run_dir,) = results_dir.glob("*/*")
    rows = _ledger(run_dir)
    assert sorted((r["sample_id"], r["model"]) for r in rows) == sorted(
        (f"s{i}", m) for i in range(N) for m in ("closed-a", "open-b")
    )
    assert all(r["scores"]["exact_match"]["value"] == 1.0 for r in rows)
    assert all(r["completion"]["latency_s"] > 0 and r["completion"]["input_tokens"] for r in rows)
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["execution"]["workers"] == int(workers)
    if workers == "2":
        assert len(manifest["execution"]["worker_cpu_s"]) == 2  # both reaped


def test_attempts_are_spread_and_a_dead_worker_costs_one_retry(tmp_path):
    """Kill a worker with attempts in flight: they come back as connection errors, the policy
    retries them on the other worker, and every request still ends in an answer."""
    with TestServer(latency=0.3) as srv:
        pool = WorkerPool(2).start()
        try:

            async def go() -> list[Any]:
                await pool.open()
                policy = RetryPolicy(max_attempts=3, timeout_s=10, base_backoff_s=0.01)
                requests = [
                    Request(model="openai/m", messages=({"role": "user", "content": f"q{i}"},), params={})
                    for i in range(8)
                ]
                tasks = [
                    asyncio.create_task(
                        complete(r, policy=policy, api_key="k", call_base=srv.openai_base, send=pool.send)
                    )
                    for r in requests
                ]
                await asyncio.sleep(0.15)  # all eight in flight, four on each worker
                os.kill(pool._workers[0].pid, signal.SIGKILL)
                try:
                    return await asyncio.gather(*tasks)
                finally:
                    pool.detach()

            done = asyncio.run(go())
        finally:
            pool.close()
    assert all(c.ok and c.text == "ok" for c in done)
    assert sorted(c.attempts for c in done) == [1, 1, 1, 1, 2, 2, 2, 2]
    assert pool.lost == 1 and len(pool.cpu_s) == 2  # both reaped, the killed one too


def test_with_every_worker_gone_attempts_run_in_the_parent():
    with TestServer() as srv:
        pool = WorkerPool(1).start()
        try:

            async def go() -> Any:
                await pool.open()
                os.kill(pool._workers[0].pid, signal.SIGKILL)
                for _ in range(500):  # until the parent sees the end of the socket
                    if pool.lost:
                        break
                    await asyncio.sleep(0.01)
                call = Call(
                    model="openai/m",
                    messages=({"role": "user", "content": "hi"},),
                    params={},
                    api_base=srv.openai_base,
                    api_key="k",
                )
                try:
                    return await pool.send(call)
                finally:
                    pool.detach()

            out = asyncio.run(go())
        finally:
            pool.close()
    assert pool.lost == 1
    assert out.error is None and out.completion is not None and out.completion.text == "ok"
    assert srv.stats.total == 1


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(c) for c in f.read().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_kill_9_of_the_run_ends_its_workers_and_resume_completes(make_suite, results_dir):
    with TestServer(responder=_answer, latency=0.2) as srv:
        path = _suite(make_suite, srv, n=60, concurrency=6)
        env = {**os.environ, "EVALKIT_WORKERS": "2", "EVALKIT_RESULTS_DIR": str(results_dir)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalkit", "run", str(path), "--no-progress", "--no-cache"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and srv.stats.total < 20:
            workers = _children(proc.pid) or workers
            time.sleep(0.02)
        workers = _children(proc.pid) or workers
        # two workers and the report process (evalkit.report.process): none may outlive the run
        assert len(workers) == 3, "the run did not start two workers and its report process"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers), "a worker or the report process outlived its run"
        (run_dir,) = results_dir.glob("*/*")
        before = len(_ledger(run_dir))
        assert before < 120
        assert main(["run", "--resume", str(run_dir), "--no-progress", "--no-cache"]) == 0
    cells = [(r["sample_id"], r["model"]) for r in _ledger(run_dir)]
    assert len(cells) == len(set(cells)) == 120
