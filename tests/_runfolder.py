"""Build run folders (run.json + samples.jsonl) for the aggregate/report/gate tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalkit.types import Completion, ErrorInfo, ErrorKind, Result, Score

ModelSpec = tuple[str, str] | tuple[str, str, str] | tuple[str, str, str, str]


def res(
    sample_id: str,
    model: str,
    value: float | dict[str, float] | None = 1.0,
    *,
    epoch: int = 0,
    scorer: str = "exact_match",
    error: ErrorKind | None = None,
    text: str | None = "answer",
    cost: float | None = 0.001,
    input_tokens: int | None = 10,
    output_tokens: int | None = 2,
    latency: float | None = 0.5,
    tags: dict[str, str] | None = None,
    input: str = "question",
    expected: Any = "answer",
    explanation: str = "because",
    scores: dict[str, Score] | None = None,
) -> Result:
    """One ledger result; ``value`` may be a {scorer: value} dict; ``error`` makes it a failed request;
    ``scores`` gives the verdicts outright (real scorers' output, with their ``meta``)."""
    if error is not None:
        completion = Completion(
            text=None,
            cost_usd=None,
            input_tokens=None,
            output_tokens=None,
            latency_s=None,
            error=ErrorInfo(error, f"{error} happened", 500 if error == ErrorKind.SERVER else None),
        )
        scores: dict[str, Score] = {}
    else:
        completion = Completion(
            text=text,
            finish_reason="stop",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=cost,
            latency_s=latency,
        )
        if scores is None:
            values = value if isinstance(value, dict) else ({} if value is None else {scorer: value})
            scores = {k: Score(v, text, explanation) for k, v in values.items()}
    return Result(
        sample_id=sample_id,
        model=model,
        epoch=epoch,
        completion=completion,
        scores=scores,
        request_key="k",
        input=input,
        expected=expected,
        tags=tags or {},
    )


def manifest(
    models: Sequence[ModelSpec] = (("gpt", "closed"), ("llama", "open")),
    scorers: Sequence[str] = ("exact_match",),
    *,
    gate: dict[str, Any] | None = None,
    status: str = "finished",
    errors: str | None = None,
    scorer_args: dict[str, dict[str, Any]] | None = None,
    scorer_names: dict[str, str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """run.json; ``scorer_args``/``scorer_names`` by scorer key, ``params`` by model name
    (default ``{"temperature": 0}``)."""
    ms = []
    for spec in models:
        name, group = spec[0], spec[1]
        st = spec[2] if len(spec) > 2 else "ok"
        reason = spec[3] if len(spec) > 3 else None
        ms.append(
            {
                "name": name,
                "model": f"openai/{name}",
                "group": group,
                "api_base": None,
                "params": (params or {}).get(name, {"temperature": 0}),
                "concurrency": 4,
                "price": None,
                "status": st,
                "status_reason": reason,
            }
        )
    suite_config: dict[str, Any] = {"name": "demo"}
    if errors is not None:
        suite_config["errors"] = errors
    return {
        "format": 1,
        "run_id": "20261122-101500-a1b2c3",
        "status": status,
        "started_at": "2026-11-22T10:15:00Z",
        "finished_at": "2026-11-22T10:19:12Z",
        "suite": {
            "name": "demo",
            "version": "1",
            "path": "suites/demo.yaml",
            "hash": "h" * 64,
            "task_hash": "t" * 64,
        },
        "suite_config": suite_config,
        "dataset": {"path": "data.jsonl", "sha256": "d" * 64, "n_samples": 4, "format": "jsonl"},
        "epochs": 1,
        "models": ms,
        "scorers": [
            {"key": s, "name": (scorer_names or {}).get(s, s), "args": (scorer_args or {}).get(s, {})}
            for s in scorers
        ],
        "gate": gate if gate is not None else {"scorer": scorers[0] if scorers else None},
        "versions": {"evalkit": "0.1.0", "litellm": "1.106.2", "python": "3.11.7"},
        "counts": {"planned": 8, "done": 8, "errors": 0, "cached": 0},
    }


def write_run(
    run_dir: Path,
    results: Sequence[Result] = (),
    *,
    extra: str = "",
    **manifest_kwargs: Any,
) -> Path:
    """Write run.json and samples.jsonl (plus ``extra`` raw text appended to the ledger)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps(manifest(**manifest_kwargs)), encoding="utf-8")
    lines = "".join(json.dumps(r.to_dict()) + "\n" for r in results)
    (run_dir / "samples.jsonl").write_text(lines + extra, encoding="utf-8")
    return run_dir
