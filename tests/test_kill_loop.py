"""kill -9 at random moments, 20 times in a row, each followed by --resume.

The final ledger has exactly one result per sample x model x epoch, and no request that had
been recorded before a kill reaches the server again after it. Marked slow (`make test-slow`,
run by CI)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from evalkit.testing.server import TestServer

pytestmark = pytest.mark.slow
N, EPOCHS, KILLS = 40, 2, 20


def _cells(ledger: Path) -> list[tuple[str, str, int]]:
    if not ledger.exists():
        return []
    out = []
    for line in ledger.read_text().splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill: the ledger reader skips it too
        out.append((r["sample_id"], r["model"], r["epoch"]))
    return out


def _sent_cells(bodies: list) -> list[tuple[str, str]]:
    found = []
    for b in bodies:
        text = json.dumps(b)
        m = re.search(r"question (\d+)", text)
        if m and isinstance(b, dict):
            found.append((f"s{m.group(1)}", b.get("model", "")))
    return found


def test_twenty_kills_then_resume_lose_nothing_and_pay_nothing_twice(make_suite, tmp_path: Path):
    rng = random.Random(20261122)
    results = tmp_path / "results"
    with TestServer(answers={"question": "yes"}, latency=0.03) as srv:
        path = make_suite(
            [{"id": f"s{i}", "input": f"question {i}", "expected": "yes"} for i in range(N)],
            models=[
                {"name": n, "model": f"openai/{n}", "group": g, "api_base": srv.openai_base}
                for n, g in (("closed-a", "closed"), ("open-b", "open"))
            ],
            defaults={"concurrency": 3, "params": {"max_tokens": 4}},
            epochs=EPOCHS,
        )
        env = {**os.environ, "EVALKIT_RESULTS_DIR": str(results)}
        cmd = [sys.executable, "-m", "evalkit", "run", str(path), "--no-progress"]
        run_dir: Path | None = None
        for _ in range(KILLS):
            recorded = (
                Counter((s, m) for s, m, _ in _cells(run_dir / "samples.jsonl")) if run_dir else Counter()
            )
            srv.reset_stats()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.3, 2.5))  # start-up alone takes ~1 s: some kills land before any request
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            # the server never sees a (sample, model) more often than it still had epochs unrecorded
            sent = Counter(_sent_cells(srv.stats.bodies))
            for cell, times in sent.items():
                assert times <= EPOCHS - recorded[cell], (
                    f"{cell} sent {times}x with {recorded[cell]} recorded"
                )
            if run_dir is None:
                dirs = [p for p in results.glob("*/*") if p.is_dir()]
                if dirs:
                    run_dir = dirs[0]
                    cmd = [sys.executable, "-m", "evalkit", "run", "--resume", str(run_dir), "--no-progress"]
        assert run_dir is not None, "no attempt got as far as creating the run folder"
        final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
    cells = Counter(_cells(run_dir / "samples.jsonl"))
    assert len(cells) == N * 2 * EPOCHS
    assert max(cells.values()) == 1
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
