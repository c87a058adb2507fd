"""Run folders for the partial-migration tests: six slices of a tag, seeded pass/fail answers, token
counts per slice, prices and a volume in run.json's suite_config."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _runfolder import res, write_run

SLICES = ("s0", "s1", "s2", "s3", "s4", "s5")
CLOSED_TOKENS = {"s0": (1000, 200), "s1": (1000, 200)}
"""The closed model's tokens per request on a slice (in, out); every other slice: (500, 100)."""
OPEN_TOKENS = {"s0": (1200, 300), "s1": (1200, 300)}
"""An open model's tokens per request (another tokeniser); every other slice: (600, 150)."""


def planted_values(
    rng: np.random.Generator, per: int, good: Sequence[str], *, flip: float = 0.005, worse: float = 0.2
) -> tuple[list[float], list[float]]:
    """Closed passes ~90 %; the open model copies it, on the ``good`` slices with ``flip`` of the
    answers flipped each way (a gap of about 0), elsewhere also failing ``worse`` of the closed passes."""
    closed: list[float] = []
    open_: list[float] = []
    for sl in SLICES:
        c = (rng.random(per) < 0.9).astype(float)
        o = c.copy()
        u = rng.random(per)
        if sl in good:
            o[(c == 1) & (u < flip)] = 0.0
            o[(c == 0) & (u < flip * 9)] = 1.0  # about as many 0 -> 1 as 1 -> 0 flips
        else:
            o[(c == 1) & (u < worse)] = 0.0
        closed += c.tolist()
        open_ += o.tolist()
    return closed, open_


def noise_values(
    rng: np.random.Generator, per: int, closed_rate: float, open_rate: float
) -> tuple[list[float], list[float]]:
    """Independent pass/fail answers with the same rates on every slice (no slice differs)."""
    n = per * len(SLICES)
    return (rng.random(n) < closed_rate).astype(float).tolist(), (rng.random(n) < open_rate).astype(
        float
    ).tolist()


def write_partial_run(
    run_dir: Path,
    per: int,
    values: Mapping[str, Sequence[float]],
    groups: Mapping[str, str],
    *,
    gate: dict[str, Any],
    prices: Mapping[str, dict[str, float] | None] | None = None,
    volume: dict[str, float] | None = None,
    tokens: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
    lengths: Sequence[int] | None = None,
    tags: Sequence[str] = ("kind",),
    slice_names: Sequence[str] = SLICES,
) -> Path:
    """A run folder: ``per`` examples a slice, each model's value per example (slice by slice), its
    tokens per request on each slice (default CLOSED_TOKENS / OPEN_TOKENS by group), and in run.json
    the suite's prices, volume and ``dataset.tags``."""
    n = per * len(slice_names)
    lengths = list(lengths) if lengths is not None else [20 + (7 * i) % 180 for i in range(n)]
    results = []
    for model, vals in values.items():
        table = (tokens or {}).get(model) or (CLOSED_TOKENS if groups[model] == "closed" else OPEN_TOKENS)
        default = (500, 100) if groups[model] == "closed" else (600, 150)
        for i, v in enumerate(vals):
            sl = slice_names[i // per]
            t_in, t_out = table.get(sl, default)
            results.append(
                res(
                    f"e{i:05d}",
                    model,
                    v,
                    tags={"kind": sl},
                    input="x" * lengths[i],
                    input_tokens=t_in,
                    output_tokens=t_out,
                    cost=None,
                )
            )
    run = write_run(run_dir, results, models=[(m, groups[m]) for m in values], gate=gate)
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    manifest["suite_config"] = {
        "name": "demo",
        "dataset": {"path": "data.jsonl", "tags": list(tags)},
        "models": [
            {"name": m, "model": f"openai/{m}", "group": groups[m], **({"price": p} if p else {})}
            for m, p in ((m, (prices or {}).get(m)) for m in values)
        ],
        **({"volume": volume} if volume else {}),
    }
    (run / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run
