"""The cross-task table of ``evalkit compare`` as text (the terminal), Markdown and CSV: one row per
task, computed by :mod:`evalkit.analysis.compare`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from evalkit._util.io import atomic_write_text
from evalkit._util.spreadsheet import neutralise
from evalkit.analysis.compare import COMPARE_COLUMNS, CompareRow, CompareTable

__all__ = ["format_table", "to_markdown", "write_compare"]


def _f(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _cells(r: CompareRow) -> list[str]:
    ci = f"[{_f(r.ci_low)}, {_f(r.ci_high)}]" if r.ci_low is not None else "—"
    return [
        r.task,
        r.scorer or "—",
        f"{r.closed_model} {_f(r.closed_score)}" if r.closed_model else "—",
        f"{r.open_model} {_f(r.open_score)}" if r.open_model else "—",
        _f(r.gap),
        ci,
        str(r.n_examples),
        _f(r.p_holm, 4),
        r.verdict,
        r.partial_migration or "—",
    ]


_HEADERS = [
    "task",
    "scorer",
    "best closed",
    "best open",
    "gap",
    "CI",
    "examples",
    "p (Holm)",
    "verdict",
    "partial migration",
]


def _footer(table: CompareTable) -> list[str]:
    conf = f"{table.confidence * 100:g}%"
    return [
        f"gap = best closed - best open, paired on the same examples; CI: {conf} paired bootstrap interval.",
        f"p (Holm): the gap's p-value Holm-corrected across the {table.holm_family} task(s) of this table.",
        "verdict: each task's own gate (migrate / stay / inconclusive / cannot decide / partial).",
        "partial migration: whether some slices (tag values, input lengths) could move to an open model "
        "(docs/statistics.md, 'Partial migration'); — when not computed.",
        *[f"note: {n}" for n in table.notes],
    ]


def format_table(table: CompareTable) -> str:
    """The table as fixed-width text, then the footnotes."""
    body = [_HEADERS, *[_cells(r) for r in table.rows]]
    widths = [max(len(row[i]) for row in body) for i in range(len(_HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body]
    return "\n".join([*lines, "", *_footer(table)])


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(table: CompareTable) -> str:
    out = ["# evalkit compare", "", "| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
    out += ["| " + " | ".join(_md(c) for c in _cells(r)) + " |" for r in table.rows]
    out += ["", *[f"- {_md(line)}" for line in _footer(table)]]
    return "\n".join(out) + "\n"


def _csv_text(table: CompareTable) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COMPARE_COLUMNS)
    for r in table.rows:
        values = {**{k: getattr(r, k) for k in COMPARE_COLUMNS if k != "runs"}, "runs": ";".join(r.runs)}
        w.writerow(["" if values[k] is None else neutralise(values[k]) for k in COMPARE_COLUMNS])
    return buf.getvalue()


def write_compare(table: CompareTable, out_dir: str | Path) -> list[Path]:
    """Write ``compare.csv`` and ``compare.md`` into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("compare.csv", _csv_text(table)), ("compare.md", to_markdown(table))):
        path = atomic_write_text(out / name, text, errors="replace")
        paths.append(path)
    return paths
