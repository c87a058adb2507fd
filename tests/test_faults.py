"""Provider faults survived, as a table: each is injected by the test server over real HTTP,
and each ends as data in the ledger (or a retried success), never as a crashed run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli import main
from evalkit.testing.server import Rule, TestServer

FAULTS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # id, api, rule (applied to the sample "question 1"), expected {requests, kind, text, ...}
    ("500-once", "openai", {"status": 500, "times": 1}, {"requests": 2, "kind": None, "text": "ok"}),
    ("502-once", "openai", {"status": 502, "times": 1}, {"requests": 2, "kind": None}),
    ("503-once", "anthropic", {"status": 503, "times": 1}, {"requests": 2, "kind": None}),
    ("529-once", "openai", {"status": 529, "times": 1}, {"requests": 2, "kind": None}),
    ("529-once-anthropic", "anthropic", {"status": 529, "times": 1}, {"requests": 2, "kind": None}),
    ("400", "openai", {"status": 400}, {"requests": 1, "kind": "bad_request"}),
    ("404", "openai", {"status": 404}, {"requests": 1, "kind": "bad_request"}),
    ("422", "openai", {"status": 422}, {"requests": 1, "kind": "bad_request"}),
    ("400-anthropic", "anthropic", {"status": 400}, {"requests": 1, "kind": "bad_request"}),
    (
        "context-window",
        "openai",
        {"status": 400, "error_code": "context_length_exceeded"},
        {"requests": 1, "kind": "context_window"},
    ),
    (
        "context-window-anthropic",
        "anthropic",
        {"status": 400, "error_code": "context_length_exceeded"},
        {"requests": 1, "kind": "context_window"},
    ),
    (
        "html-200",
        "openai",
        {"raw_body": "<html><body>Bad gateway</body></html>"},
        {"requests": 1, "kind": "bad_response"},
    ),
    (
        "not-json-200-anthropic",
        "anthropic",
        {"raw_body": "upstream exploded"},
        {"requests": 1, "kind": "bad_response"},
    ),
    (
        "html-502",
        "openai",
        {"raw_body": "<html>502</html>", "status": 502},
        {"requests": 3, "kind": "server"},
    ),
    ("no-choices", "openai", {"no_choices": True}, {"requests": 1, "kind": "bad_response"}),
    ("content-null", "openai", {"content_null": True}, {"requests": 1, "kind": None, "text": None}),
    (
        "truncated",
        "openai",
        {"finish_reason": "length", "reply": "yes and"},
        {"requests": 1, "kind": None, "finish_reason": "length"},
    ),
    (
        "missing-usage",
        "openai",
        {"omit_usage": True},
        {"requests": 1, "kind": None, "input_tokens": None, "cost_usd": None},
    ),
    ("missing-usage-anthropic", "anthropic", {"omit_usage": True}, {"requests": 1, "kind": "bad_response"}),
    ("dropped-connection", "openai", {"drop_connection": True}, {"requests": 3, "kind": "server"}),
    ("hang", "openai", {"hang": True}, {"requests": 3, "kind": "timeout"}),
]


@pytest.fixture
def server():
    with TestServer(answers={"question": "ok"}) as srv:
        yield srv


def _suite(make_suite, server: TestServer, api: str) -> Path:
    model = (
        {"name": "m", "model": "anthropic/claude-x", "api_base": server.anthropic_base}
        if api == "anthropic"
        else {"name": "m", "model": "openai/gpt-x", "api_base": server.openai_base}
    )
    return make_suite(
        [{"id": f"s{i}", "input": f"question {i}", "expected": "ok"} for i in range(3)],
        models=[
            {
                **model,
                "group": "open",
                "api_key_env": "TEST_KEY",
                "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
            }
        ],
        defaults={
            "params": {"max_tokens": 5},
            "concurrency": 2,
            "max_attempts": 3,
            "timeout_s": 0.5,
            "max_retry_time_s": 20,
        },
    )


@pytest.mark.parametrize(("case", "api", "rule", "expect"), FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_is_survived(make_suite, server, results_dir, monkeypatch, case, api, rule, expect):
    monkeypatch.setenv("TEST_KEY", "k")
    server.add_rule(Rule(contains="question 1", **rule))
    t0 = time.monotonic()
    code = main(["run", str(_suite(make_suite, server, api)), "--no-progress", "--no-cache"])
    elapsed = time.monotonic() - t0
    assert code == 0  # one bad cell of three is data, not an infrastructure failure
    (run_dir,) = [p for p in results_dir.glob("*/*") if p.is_dir()]
    rows = {r["sample_id"]: r for r in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}
    assert set(rows) == {"s0", "s1", "s2"}
    c = rows["s1"]["completion"]
    assert sum("question 1" in json.dumps(b) for b in server.stats.bodies) == expect["requests"]
    assert (c["error"]["kind"] if c["error"] else None) == expect["kind"], c
    for key in ("text", "finish_reason", "input_tokens", "cost_usd"):
        if key in expect:
            assert c[key] == expect[key]
    if expect["kind"] is None:
        assert rows["s1"]["scores"], "an answered cell is scored"
    else:
        assert rows["s1"]["scores"] == {} and c["error"]["message"]
    # the other cells are untouched
    assert rows["s0"]["completion"]["text"] == "ok" and rows["s0"]["completion"]["cost_usd"] > 0
    # timeouts are bounded: attempts x timeout plus back-off, far below the retry-time cap
    assert elapsed < 15


def test_report_counts_errors_and_truncation(make_suite, server, results_dir, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "k")
    server.add_rule(Rule(contains="question 1", status=400))
    assert main(["run", str(_suite(make_suite, server, "openai")), "--no-progress"]) == 0
    (run_dir,) = [p for p in results_dir.glob("*/*") if p.is_dir()]
    summary = (run_dir / "summary.csv").read_text().splitlines()
    header, row = summary[0].split(","), summary[1].split(",")
    assert row[header.index("errors")] == "1"
    assert "bad_request" in (run_dir / "report.html").read_text()
