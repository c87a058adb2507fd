"""Several runners behind one LiteLLM Proxy (docs/scaling-open-models.md).

The integration test (marker ``proxy``, ``make test-proxy``) starts the proxy CLI of the
``litellm[proxy]`` extra (requirements/proxy.lock) on 127.0.0.1 in front of evalkit's test server,
then runs the two shards of a suite through it at the same time, as two CI jobs would. The master
key lives only in the environment of the processes (never in a file evalkit writes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.cli import main
from evalkit.testing.server import TestServer

ROOT = Path(__file__).resolve().parents[1]
N = 24
MASTER_KEY = "sk-evalkit-proxy-test-master"
UPSTREAM_KEY = "upstream-provider-key"


def _pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", lock.read_text(), re.MULTILINE))


def test_proxy_lock_moves_nothing_main_lock_pins():
    main_pins = _pins(ROOT / "requirements" / "main.lock")
    proxy_pins = _pins(ROOT / "requirements" / "proxy.lock")
    assert proxy_pins["litellm"] == main_pins["litellm"] == "1.106.2"
    moved = {k: (main_pins[k], v) for k, v in proxy_pins.items() if k in main_pins and main_pins[k] != v}
    assert moved == {}
    assert {"fastapi", "uvicorn", "redis"} <= set(proxy_pins)  # the proxy's own dependencies are in it


def _answer(model: str, messages: list[dict[str, Any]]) -> str:
    """The closed model is always right; the open one is wrong on every fourth question."""
    i = int(re.search(r"question (\d+)", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    if model == "open-llama" and i % 4 == 0:
        return "maybe"
    return "yes" if i % 2 else "no"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the LiteLLM proxy exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health/liveliness", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the LiteLLM proxy was not ready within {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def upstream():
    with TestServer(responder=_answer, require_key=UPSTREAM_KEY, latency=0.01) as srv:
        yield srv


@pytest.fixture
def proxy(upstream: TestServer, tmp_path: Path):
    """The proxy CLI from this venv, configured like docs/scaling-open-models.md (without Redis)."""
    cli = Path(sys.executable).with_name("litellm")
    if not cli.exists() or shutil.which("litellm", path=str(cli.parent)) is None:
        pytest.skip("the litellm[proxy] extra is not installed (make test-proxy installs it)")
    pytest.importorskip("fastapi", reason="the litellm[proxy] extra is not installed (make test-proxy)")
    config = {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": "os.environ/UPSTREAM_BASE",
                    "api_key": "os.environ/UPSTREAM_KEY",
                    "rpm": 6000,
                },
            }
            for name in ("closed-gpt", "open-llama")
        ],
        "router_settings": {"num_retries": 0},  # evalkit owns the retry policy
        "general_settings": {"master_key": "os.environ/PROXY_MASTER_KEY"},
    }
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text(yaml.safe_dump(config))
    assert MASTER_KEY not in cfg.read_text() and UPSTREAM_KEY not in cfg.read_text()
    port = _free_port()
    env = {
        **os.environ,
        "UPSTREAM_BASE": upstream.openai_base,
        "UPSTREAM_KEY": UPSTREAM_KEY,
        "PROXY_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
    }
    log = tmp_path / "proxy.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(cli), "--config", str(cfg), "--port", str(port), "--host", "127.0.0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ledger(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines() if x.strip()]


@pytest.mark.proxy
def test_two_shards_through_one_litellm_proxy(proxy, upstream, make_suite, tmp_path, monkeypatch):
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"} for i in range(N)]
    common = {"group": "closed", "api_base": proxy, "api_key_env": "EVALKIT_PROXY_KEY"}
    path = make_suite(
        rows,
        models=[
            {"name": "gpt", "model": "litellm_proxy/closed-gpt", **common},
            {"name": "llama", "model": "litellm_proxy/open-llama", **common, "group": "open"},
        ],
        defaults={"params": {"temperature": 0, "max_tokens": 5}, "concurrency": 4, "max_attempts": 3},
    )
    results = tmp_path / "results"
    env = {**os.environ, "EVALKIT_PROXY_KEY": MASTER_KEY, "EVALKIT_RESULTS_DIR": str(results)}
    runners = [
        subprocess.Popen(
            [sys.executable, "-m", "evalkit", "run", str(path), "--shard", shard, "--no-progress"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for shard in ("1/2", "2/2")
    ]  # two runners at once, as two CI jobs sharing one provider account
    outputs = [r.communicate(timeout=120)[0].decode() for r in runners]
    assert [r.returncode for r in runners] == [0, 0], outputs

    # every request went through the proxy to the provider, once, with the proxy's own key
    assert upstream.stats.by_model == {"closed-gpt": N, "open-llama": N}
    assert {h.get("Authorization") for h in upstream.stats.headers} == {f"Bearer {UPSTREAM_KEY}"}

    run_dirs = sorted(p for p in results.glob("*/*") if p.is_dir())
    assert len(run_dirs) == 2
    shards = [{r["sample_id"] for r in _ledger(d)} for d in run_dirs]
    assert shards[0] and shards[1] and not shards[0] & shards[1]  # disjoint, both non-empty
    assert shards[0] | shards[1] == {f"s{i}" for i in range(N)}  # together: every sample
    results_rows = [r for d in run_dirs for r in _ledger(d)]
    assert len(results_rows) == 2 * N and all(r["completion"]["error"] is None for r in results_rows)
    score = {
        m: sum(r["scores"]["exact_match"]["value"] for r in results_rows if r["model"] == m)
        for m in ("gpt", "llama")
    }
    assert score == {"gpt": N, "llama": N - N // 4}  # wrong on s0, s4, ... s20: 6 of 24

    # the two shards merge into one run of the whole suite
    merged = tmp_path / "merged"
    assert main(["merge", *map(str, run_dirs), "--output", str(merged)]) == 0
    assert len(_ledger(merged)) == 2 * N

    # no key in anything evalkit wrote
    for d in [*run_dirs, merged]:
        for f in d.rglob("*"):
            if f.is_file():
                text = f.read_text(errors="replace")
                assert MASTER_KEY not in text and UPSTREAM_KEY not in text, f
