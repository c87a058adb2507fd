"""A canary API key set for a whole run — successes, failures, a rejected key, debug logging on —
appears in no file evalkit writes and in none of its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evalkit.testing.server import Rule, TestServer

CANARY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"
WRONG = "sk-canary-wrong-0a1b2c3d4e5f"


def test_canary_key_never_written_or_printed(make_suite, tmp_path: Path):
    with TestServer(answers={"question": "yes"}, require_key=CANARY) as srv:
        srv.add_rule(Rule(contains="question 1", status=500))
        srv.add_rule(Rule(contains="question 2", status=400, reply=f"echoing your key {CANARY}"))
        srv.add_rule(Rule(contains="question 3", raw_body=f"<html>Authorization: Bearer {CANARY}</html>"))
        path = make_suite(
            [{"id": f"s{i}", "input": f"question {i}", "expected": "yes"} for i in range(6)],
            models=[
                {
                    "name": "good",
                    "model": "openai/good",
                    "group": "closed",
                    "api_base": srv.openai_base,
                    "api_key_env": "CANARY_API_KEY",
                },
                {
                    "name": "claude",
                    "model": "anthropic/c",
                    "group": "closed",
                    "api_base": srv.anthropic_base,
                    "api_key_env": "CANARY_API_KEY",
                },
                {
                    "name": "rejected",
                    "model": "openai/rejected",
                    "group": "open",
                    "api_base": srv.openai_base,
                    "api_key_env": "WRONG_API_KEY",
                },
            ],
            defaults={"max_attempts": 2, "params": {"max_tokens": 5}},
        )
        env = {
            **os.environ,
            "CANARY_API_KEY": CANARY,
            "WRONG_API_KEY": WRONG,
            "OPENAI_API_KEY": CANARY,
            "LITELLM_LOG": "DEBUG",
            "EVALKIT_RESULTS_DIR": str(tmp_path / "results"),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "evalkit", "run", str(path), "--no-progress"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert srv.stats.total > 0
        assert any(CANARY in str(h) for h in srv.stats.headers)  # the key really was sent
    assert proc.returncode == 3  # the rejected model stopped
    assert "WRONG_API_KEY" in proc.stderr
    for secret in (CANARY, WRONG, "canary-7f3a9c"):
        assert secret not in proc.stdout and secret not in proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "samples.jsonl" for p in written) and any(p.suffix == ".sqlite3" for p in written)
    for p in written:
        data = p.read_bytes()
        for secret in (CANARY, WRONG):
            assert secret.encode() not in data, f"{secret} found in {p}"
