"""``gaps.json``: every paired gap of a run, for scripts (format in docs/run-folder.md).

``best_closed_vs_open`` holds the rows of ``gaps.csv`` (the best closed model minus each open
model, per scorer and slice; ``p_holm`` Holm-corrected per scorer); ``matrix`` holds every closed
model minus every open model with *uncorrected* p-values; ``models`` the flip rates across epochs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit._util.io import atomic_write_text
from evalkit.analysis.gaps import gap_plan
from evalkit.analysis.summary import ALL, GapSummary, RunSummary
from evalkit.report.csv import gap_row
from evalkit.rundir.manifest import Manifest
from evalkit.stats import MIN_RELIABLE_N

__all__ = ["FORMAT", "gaps_document", "write_gaps_json"]

FORMAT = 1


def _row(g: GapSummary, margin: float | None, confidence: float, *, corrected: bool) -> dict[str, Any]:
    row = gap_row(g, margin, confidence)
    row.pop("n_needed")
    row.pop("n_needed_80")
    if not corrected:
        row.pop("p_holm")
        row.pop("holm_family")
    row["sd_diff"] = g.sd_diff
    row["all_equal"] = g.all_equal
    plan = gap_plan(g, margin, confidence)
    row["plan"] = (
        None
        if plan is None
        else {
            "margin": plan.margin,
            "decided": plan.decided,
            "n_needed": plan.needed,
            "n_needed_80": plan.needed_power,
            "text": plan.text(),
        }
    )
    return row


def gaps_document(summary: RunSummary, manifest: Manifest, margin: float | None = None) -> dict[str, Any]:
    """The file's content (see the module docstring and docs/run-folder.md)."""
    conf = summary.confidence
    return {
        "format": FORMAT,
        "run_id": summary.run_id,
        "suite": summary.suite,
        "suite_version": summary.suite_version,
        "task_hash": manifest.suite.task_hash,
        "dataset_sha256": manifest.dataset.sha256,
        "gate_scorer": summary.gate_scorer,
        "best_closed": summary.best_closed,
        "gap_note": summary.gap_note,
        "error_policy": summary.error_policy,
        "epochs": summary.epochs,
        "margin": margin,
        "statistics": {
            "confidence": conf,
            "n_resamples": summary.n_resamples,
            "seed": summary.seed,
            "min_reliable_examples": MIN_RELIABLE_N,
            "interval": "paired percentile bootstrap over examples (cluster bootstrap with epochs)",
            "holm": "best_closed_vs_open: p_holm is Holm-corrected per scorer over its rows "
            "(every open model x every slice); matrix p-values are uncorrected",
        },
        "best_closed_vs_open": [_row(g, margin, conf, corrected=True) for g in summary.gaps],
        "matrix": [_row(g, margin, conf, corrected=False) for g in summary.gap_matrix],
        "models": {
            m.name: {
                "group": m.group,
                "flip_rates": {
                    key: {"rate": st.flip_rate, "examples": st.flip_examples} for key, st in m.scores.items()
                },
            }
            for m in summary.models
            if m.slice == ALL
        },
    }


def write_gaps_json(
    summary: RunSummary, manifest: Manifest, path: str | Path, margin: float | None = None
) -> Path:
    path = Path(path)
    doc = gaps_document(summary, manifest, margin)
    text = json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    atomic_write_text(path, text, errors="replace")
    return path
