"""The example table: up to N cells (sample, epoch), disagreements first, every model's output.

Picking reads only the per-cell values the aggregator kept for the gate scorer; a second pass
over the ledger then collects the outputs of the picked cells alone, so memory stays bounded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.rundir.ledger import iter_results

__all__ = [
    "DEFAULT_LIMIT",
    "Example",
    "ExampleOutput",
    "ExampleScore",
    "collect_examples",
    "pick_cells",
]

DEFAULT_LIMIT = 2000
"""Cells the explorer carries (disagreements first): 10k x 4 models -> a 1.7 MB page that loads in ~4 s."""
MAX_CHARS = 2000
"""Longer texts are cut in the report (the ledger keeps them whole)."""

CellKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ExampleScore:
    scorer: str
    value: float
    answer: str | None
    explanation: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class ExampleOutput:
    model: str
    text: str | None
    error: str | None
    scores: list[ExampleScore] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Example:
    sample_id: str
    epoch: int
    input: str
    expected: str
    tags: str
    disagreement: bool
    outputs: dict[str, ExampleOutput]
    """Model name -> output, for the models that have this cell."""


def clip(text: str | None, limit: int = MAX_CHARS) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… [cut: {len(text)} characters in the ledger]"


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def pick_cells(
    values: Mapping[CellKey, Mapping[str, float]], limit: int = DEFAULT_LIMIT
) -> list[tuple[CellKey, bool]]:
    """Up to ``limit`` cells in ledger order, disagreements first, each with its disagreement flag.

    A cell is a disagreement when its models' values differ, or when a model that has values
    elsewhere has none here (it errored under ``exclude`` or the cell is missing).
    """
    models_seen: set[str] = set()
    for per_model in values.values():
        models_seen.update(per_model)
    disagree: list[CellKey] = []
    agree: list[CellKey] = []
    for cell, per_model in values.items():
        differs = len(set(per_model.values())) > 1 or len(per_model) < len(models_seen)
        if differs:
            disagree.append(cell)
            if len(disagree) >= limit:
                break
        elif len(agree) < limit:
            agree.append(cell)
    picked = [(c, True) for c in disagree] + [(c, False) for c in agree]
    return picked[:limit]


def collect_examples(
    run_dir: str | Path, picked: Sequence[tuple[CellKey, bool]], scorers: Sequence[str]
) -> list[Example]:
    """Read the ledger once more and gather the outputs of the picked cells (only theirs are parsed
    into results)."""
    order = {cell: i for i, (cell, _d) in enumerate(picked)}
    flags = dict(picked)
    heads: dict[CellKey, dict[str, Any]] = {}
    outputs: dict[CellKey, dict[str, ExampleOutput]] = {cell: {} for cell in order}
    for r in iter_results(run_dir, only=order):
        cell = (r.sample_id, r.epoch)
        heads.setdefault(
            cell,
            {
                "input": clip(r.input) or "",
                "expected": clip(_show(r.expected)) or "",
                "tags": ", ".join(f"{k}={v}" for k, v in sorted((r.tags or {}).items())),
            },
        )
        err = r.completion.error
        scores = [
            ExampleScore(key, s.value, clip(s.answer, 300), clip(s.explanation, 600) or "", s.label)
            for key in scorers
            if (s := r.scores.get(key)) is not None
        ]
        outputs[cell][r.model] = ExampleOutput(
            r.model,
            clip(r.completion.text),
            f"{err.kind}: {clip(err.message, 300)}" + (f" (HTTP {err.status})" if err.status else "")
            if err
            else None,
            scores,
        )
    return [
        Example(
            cell[0],
            cell[1],
            heads[cell]["input"],
            heads[cell]["expected"],
            heads[cell]["tags"],
            flags[cell],
            outputs[cell],
        )
        for cell in sorted(heads, key=order.__getitem__)
    ]
