"""``summary.md``: the verdict, the per-model table and the gate rules, for a PR comment or
``$GITHUB_STEP_SUMMARY``.

No model output is included. Every text that comes from the run folder (names, reasons, warnings)
goes through :func:`md_escape`: Markdown and HTML specials are backslash- or entity-escaped and
newlines become spaces, so a value can neither break a table row nor inject markup. The file is
kept under :data:`MAX_BYTES` (GitHub's step-summary limit is 1 MiB): longer text is cut at a line
and ends with a note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalkit.analysis.outcome import GateOutcome
from evalkit.analysis.partial import PartialAnalysis
from evalkit.analysis.summary import ALL, RunSummary
from evalkit.economics import Economics
from evalkit.report.economics_view import economics_markdown, money_lines
from evalkit.report.partial_view import partial_markdown
from evalkit.report.verdict import cost_per_1k, gap_verdict, task_verdict
from evalkit.rundir.manifest import Manifest

__all__ = ["MAX_BYTES", "STEP_SUMMARY_ENV", "append_step_summary", "md_escape", "render_markdown", "truncate"]

MAX_BYTES = 1024 * 1024 - 4096
"""Under GitHub's 1 MiB step-summary limit, with room for other steps' text."""
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value: Any) -> str:
    """Text safe inside a Markdown paragraph or table cell: HTML specials as entities, Markdown
    specials backslash-escaped, control characters and newlines as spaces."""
    text = "" if value is None else str(value)
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029\ud800-\udfff]+", " ", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _n(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _ci(lo: float | None, hi: float | None) -> str:
    return "" if lo is None or hi is None else f" \\[{lo:.3f}, {hi:.3f}\\]"


def truncate(text: str, limit: int = MAX_BYTES) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else cut at a line boundary with a note."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    note = f"\n\n*Truncated: the full summary is {len(data):,} bytes; see summary.json and report.html.*\n"
    cut = data[: limit - len(note.encode("utf-8"))].decode("utf-8", errors="ignore")
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else cut
    return cut + note


def render_markdown(
    summary: RunSummary,
    manifest: Manifest,
    gate: GateOutcome | None,
    max_gap: float | None,
    *,
    economics: Economics | None = None,
    partial: PartialAnalysis | None = None,
) -> str:
    """The summary.md text (``partial``: its Partial migration section)."""
    tv = task_verdict(summary, gate, max_gap)
    gs = summary.gate_scorer
    money = money_lines(summary, economics) if economics is not None else []
    lines = [
        f"## evalkit: {md_escape(summary.suite)} — {md_escape(tv.verdict)}",
        "",
        f"**{md_escape(tv.sentence)}**",
        "",
        *[f"- {md_escape(line)}" for line in money],
        *([""] if money else []),
        f"Run {md_escape(summary.run_id or '?')} · status {md_escape(summary.status)} · "
        f"{summary.confidence * 100:g}% intervals · gate scorer {md_escape(gs or '—')}"
        + (f" · exit {tv.exit_code}" if tv.exit_code is not None else ""),
        "",
        "### Models",
        "",
        "| model | group | score | n | errors | tokens in / out | cost | per 1,000 examples | latency p50 / p95 / p99 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in summary.models:
        u = m.usage
        st = m.scores.get(gs) if gs else None
        score = f"{_n(st.mean)}{_ci(st.ci_low, st.ci_high)}" if st and st.n else "—"
        cost = "—" if not u.cost_rows else (f"${u.cost_usd:.4f}" if u.cost_known else "unknown")
        per1k = cost_per_1k(m, summary.epochs)
        lat = (
            f"{u.latency_p50_s:.2f}s / {_n(u.latency_p95_s, 2)}s / {_n(u.latency_p99_s, 2)}s"
            if u.latency_p50_s is not None
            else "—"
        )
        if u.ttft_p50_s is not None:
            lat += f" (first token {u.ttft_p50_s:.2f}s / {_n(u.ttft_p95_s, 2)}s / {_n(u.ttft_p99_s, 2)}s)"
        tokens = (
            f"{u.input_tokens:,} / {u.output_tokens:,}"
            if u.input_tokens_known_rows or u.output_tokens_known_rows
            else "—"
        )
        status = "" if m.info.status == "ok" else f" ({md_escape(m.info.status_text)})"
        lines.append(
            f"| {md_escape(m.name)}{status} | {md_escape(m.group or '?')} | {score} | {st.n if st else u.cells} | "
            f"{u.errors} | {tokens} | {cost} | "
            f"{'—' if per1k is None else f'${per1k:.4f}'} | {lat} |"
        )
    gaps = [g for g in summary.gaps if g.slice == ALL and g.scorer == gs]
    if gaps:
        lines += [
            "",
            f"### Gap: {md_escape(summary.best_closed)} minus each open model",
            "",
            "| open model | examples | gap | interval | p | p (Holm) | max_gap rule |",
            "| --- | ---: | ---: | --- | ---: | ---: | --- |",
        ]
        for g in gaps:
            lines.append(
                f"| {md_escape(g.open_model)} | {g.n_examples}{'' if g.reliable else ' †'} | {_n(g.gap)} | "
                f"{_ci(g.ci_low, g.ci_high).strip() or '—'} | {_n(g.p_value, 4)} | {_n(g.p_holm, 4)} | "
                f"{gap_verdict(g, max_gap) or '—'} |"
            )
    elif summary.gap_note:
        lines += ["", md_escape(summary.gap_note)]
    if economics is not None and economics.models:
        lines += economics_markdown(economics, md_escape)
    lines += partial_markdown(partial, md_escape, economics.volume if economics is not None else None)
    if gate is not None:
        lines += ["", "### Gate rules", "", "| rule | result | why |", "| --- | --- | --- |"]
        for r in gate.rules:
            lines.append(f"| {md_escape(r.name)} | {r.status.value.upper()} | {md_escape(r.reason)} |")
        lines += [f"- {md_escape(n)}" for n in gate.notes]
    if summary.warnings:
        lines += ["", "### Warnings", ""] + [f"- {md_escape(w)}" for w in summary.warnings]
    lines += ["", "*Written by evalkit from the run folder; model output is in report.html, not here.*", ""]
    return truncate("\n".join(lines))


def append_step_summary(text: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Append ``text`` to the file ``$GITHUB_STEP_SUMMARY`` names (when set); return its path."""
    target = (os.environ if env is None else env).get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    return path
