"""What the report shows of the scorer-specific metrics, shaped for the template.

Reads only :attr:`RunSummary.scorer_metrics` and the models' parameters. Every string here
(labels, field names, model names) is model- or user-supplied: the template escapes it.
"""

from __future__ import annotations

from typing import Any

from evalkit.analysis.summary import ModelSummary, RunSummary
from evalkit.scorers.metrics import INVALID, response_format_of, top_confusions

__all__ = [
    "FULL_MATRIX_MAX",
    "MAX_FIELDS_SHOWN",
    "TOP_PAIRS",
    "scorer_sections",
    "structured_output_lines",
    "structured_output_text",
]

TOP_PAIRS = 15
"""Off-diagonal (expected -> predicted) pairs shown per model when the matrix is too large to show."""
FULL_MATRIX_MAX = 12
"""The whole confusion matrix is shown up to this many classes."""
MAX_FIELDS_SHOWN = 100


def structured_output_text(ms: ModelSummary) -> str:
    """``response_format (json_schema)`` or ``not requested``, from the model's parameters."""
    requested, rf_type = response_format_of(ms.info.params)
    if not requested:
        return "not requested"
    return f"response_format ({rf_type})" if rf_type else "response_format"


def structured_output_lines(summary: RunSummary) -> dict[str, list[str]]:
    """Per model: whether structured output was requested, then for each ``json_valid`` scorer
    whether the outputs show it honoured (``json_valid: honoured on every row``...)."""
    out: dict[str, list[str]] = {}
    for ms in summary.models:
        lines = [structured_output_text(ms)]
        for key, m in summary.scorer_metrics.get(ms.name, {}).items():
            so = m.get("structured_output") if m.get("kind") == "json" else None
            if so and so.get("requested"):
                lines.append(f"{key}: {so.get('text', '')}")
        out[ms.name] = lines
    return out


def _classification(ms: ModelSummary, m: dict[str, Any]) -> dict[str, Any]:
    confusion: dict[str, dict[str, int]] = m.get("confusion") or {}
    per_class: dict[str, dict[str, Any]] = m.get("per_class") or {}
    labels = sorted(per_class)
    matrix = None
    if 0 < len(labels) <= FULL_MATRIX_MAX:
        matrix = {
            "labels": labels,
            "rows": [
                {
                    "label": t,
                    "cells": [(p, confusion.get(t, {}).get(p, 0), p == t) for p in labels],
                    "invalid": confusion.get(t, {}).get(INVALID, 0),
                }
                for t in sorted(confusion)
            ],
        }
    worst = sorted(per_class.items(), key=lambda kv: (kv[1]["f1"], -kv[1]["support"], kv[0]))
    return {
        "name": ms.name,
        "group": ms.group,
        "n": m.get("n", 0),
        "accuracy": m.get("accuracy"),
        "macro_f1": m.get("macro_f1"),
        "invalid_share": m.get("invalid_label_share"),
        "n_classes": m.get("n_classes", len(labels)),
        "matrix": matrix,
        "top_pairs": top_confusions(confusion, TOP_PAIRS) if matrix is None else [],
        "per_class": [{"label": c, **v} for c, v in worst],
    }


def _json(ms: ModelSummary, m: dict[str, Any]) -> dict[str, Any]:
    so = m.get("structured_output") or {}
    return {
        "name": ms.name,
        "group": ms.group,
        "constrained": bool(so.get("requested")),
        "rf_type": so.get("response_format_type"),
        "honoured": so.get("text", ""),
        "n": m.get("n", 0),
        "judged": m.get("judged", 0),
        "strict": m.get("strict_valid_rate"),
        "lenient": m.get("lenient_valid_rate"),
        "correct_rate": m.get("correct_rate"),
        "class_counts": m.get("class_counts") or {},
        "parse": m.get("parse") or {},
        "per_field": m.get("per_field") or {},
    }


def _refusal(ms: ModelSummary, m: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": ms.name,
        "group": ms.group,
        "n": m.get("n", 0),
        "matrix": m.get("matrix") or {},
        "n_no_expectation": m.get("n_no_expectation", 0),
        "over": m.get("over_refusal_rate"),
        "under": m.get("under_refusal_rate"),
        "balanced": m.get("balanced_accuracy"),
        "refusal_rate": m.get("refusal_rate"),
        "class_counts": m.get("class_counts") or {},
    }


_BUILD = {"classification": _classification, "json": _json, "refusal": _refusal}


def scorer_sections(summary: RunSummary) -> list[dict[str, Any]]:
    """One section per scorer key whose metrics have a report view, in the suite's scorer order.

    Each: ``key``, ``kind``, ``models`` (manifest order, models with verdicts only) and ``classes``
    (every model's classes, in the family's order); ``json`` sections also ``groups``
    (constrained models and unconstrained ones, never mixed) and ``fields`` (per-field accuracy
    rows, if any).
    """
    sections: list[dict[str, Any]] = []
    for key in summary.scorers:
        rows: list[dict[str, Any]] = []
        kind = None
        for ms in summary.models:
            m = summary.scorer_metrics.get(ms.name, {}).get(key)
            if m is None or m.get("kind") not in _BUILD:
                continue
            kind = m["kind"]
            rows.append(_BUILD[kind](ms, m))
        if not rows or kind is None:
            continue
        section: dict[str, Any] = {"key": key, "kind": kind, "models": rows}
        classes: list[str] = []
        for r in rows:
            classes += [c for c in r.get("class_counts", {}) if c not in classes]
        section["classes"] = classes
        if kind == "json":
            section["groups"] = [
                (title, [r for r in rows if r["constrained"] is flag])
                for title, flag in (("constrained (response_format)", True), ("unconstrained", False))
                if any(r["constrained"] is flag for r in rows)
            ]
            names = sorted({f for r in rows for f in r["per_field"]})
            section["fields"] = [
                {"field": f, "rates": [r["per_field"].get(f) for r in rows]} for f in names[:MAX_FIELDS_SHOWN]
            ]
            section["fields_cut"] = max(0, len(names) - MAX_FIELDS_SHOWN)
        sections.append(section)
    return sections
