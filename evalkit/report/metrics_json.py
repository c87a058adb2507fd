"""``scorer_metrics.json``: the scorer-specific metrics of a run, for scripts (format in docs/run-folder.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit._util.io import atomic_write_text
from evalkit.analysis.summary import RunSummary
from evalkit.rundir.manifest import Manifest
from evalkit.scorers.metrics import response_format_of

__all__ = ["FORMAT", "scorer_metrics_document", "write_scorer_metrics"]

FORMAT = 1


def scorer_metrics_document(summary: RunSummary, manifest: Manifest) -> dict[str, Any]:
    """The file's content: run identity, the scorers, and per model its metrics by scorer key."""
    models: dict[str, Any] = {}
    for ms in summary.models:
        requested, rf_type = response_format_of(ms.info.params)
        models[ms.name] = {
            "group": ms.group,
            "status": ms.info.status,
            "structured_output": {"requested": requested, "response_format_type": rf_type},
            "scorers": summary.scorer_metrics.get(ms.name, {}),
        }
    return {
        "format": FORMAT,
        "run_id": summary.run_id,
        "suite": summary.suite,
        "suite_version": summary.suite_version,
        "scope": "whole run per model x scorer; answered cells with a verdict (failed requests are not counted)",
        "scorers": [{"key": s.key, "name": s.name, "args": s.args} for s in manifest.scorers],
        "models": models,
    }


def write_scorer_metrics(summary: RunSummary, manifest: Manifest, path: str | Path) -> Path:
    path = Path(path)
    text = json.dumps(scorer_metrics_document(summary, manifest), ensure_ascii=False, indent=2) + "\n"
    atomic_write_text(path, text, errors="replace")
    return path
