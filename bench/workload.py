"""Benchmark suites: N samples, one or two models on the loopback server, exact_match scoring."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def write_suite(
    folder: Path,
    *,
    n: int,
    base: str,
    inflight: int,
    models: int = 1,
    name: str = "bench",
    max_attempts: int | None = None,
    timeout_s: float | None = None,
) -> Path:
    """A suite folder with ``n`` short samples; each model gets ``inflight`` requests in flight."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.jsonl").open("w", encoding="utf-8") as f:
        for i in range(n):
            row = {"id": f"s{i:06d}", "input": f"question {i}: is this sample number {i} even?"}
            row["expected"] = "ok" if i % 2 else "no"
            row["kind"] = "even" if i % 2 == 0 else "odd"
            f.write(json.dumps(row) + "\n")
    defaults: dict[str, object] = {
        "params": {"temperature": 0, "max_tokens": 4},
        "concurrency": inflight,
        "timeout_s": timeout_s or 60,
    }
    if max_attempts is not None:
        defaults["max_attempts"] = max_attempts
    suite = {
        "name": name,
        "version": "1",
        "dataset": {"path": "data.jsonl", "tags": ["kind"]},
        "prompt": {"system": "Answer yes or no.", "user": "{{ input }}"},
        "defaults": defaults,
        "models": [
            {
                "name": f"m{j}",
                "model": f"openai/bench-{j}",
                "group": "closed" if j == 0 else "open",
                "api_base": base,
            }
            for j in range(models)
        ],
        "scorers": ["exact_match"],
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path
