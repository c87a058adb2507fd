"""The partial migration for the reports: summary.json's ``partial_migration`` object, the display
rows report.html and summary.md share, and summary.md's section (docs/reports.md).

Everything comes from :class:`~evalkit.analysis.partial.PartialAnalysis`; nothing is recomputed.
Unknown stays unknown: a cost the run cannot price is ``null`` in JSON and "unknown" on the page,
never $0. The text here is plain; each writer escapes it (Jinja2's autoescape, :func:`md_escape`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from evalkit.analysis.partial import PartialAnalysis, PartialEntry
from evalkit.economics import BlendCost, TokenMix, Volume
from evalkit.report.economics_view import fmt_usd
from evalkit.stats.blend import BlendEstimate
from evalkit.stats.intervals import MIN_RELIABLE_N
from evalkit.stats.partial import PartialMigration

__all__ = [
    "OUTCOME_WORDS",
    "field_lines",
    "partial_dict",
    "partial_markdown",
    "partial_rows",
    "settings_text",
]

OUTCOME_WORDS = {
    "partial": "partial migration",
    "all": "every slice moves: a full migration",
    "none": "no slice moves: the blend is all-closed",
    "not_confirmed": "not confirmed on the held-out half",
}


def _mix(m: TokenMix | None) -> dict[str, float] | None:
    return None if m is None else {"input": m.mean_input, "output": m.mean_output}


def _cost_dict(c: BlendCost | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "requests_per_month": c.requests_per_month,
        "open_share": c.open_share,
        "closed_tokens_kept": _mix(c.closed_mix_kept),
        "open_tokens_moved": _mix(c.open_mix_moved),
        "all_closed_monthly_usd": c.all_closed_monthly_usd,
        "closed_part_usd": c.closed_part_usd,
        "open_part_usd": c.open_part_usd,
        "blend_monthly_usd": c.blend_monthly_usd,
        "saving_usd": c.saving_usd,
        "saving_fraction": c.saving_fraction,
        "all_closed_cost_per_correct_usd": c.all_closed_cost_per_correct_usd,
        "blend_cost_per_correct_usd": c.blend_cost_per_correct_usd,
        "all_closed_per_1k_requests_usd": c.all_closed_per_1k_requests_usd,
        "blend_per_1k_requests_usd": c.blend_per_1k_requests_usd,
        "unknowns": list(c.unknowns),
    }


def _entry_dict(pa: PartialAnalysis, e: PartialEntry) -> dict[str, Any]:
    pm = e.migration
    stats: dict[str, Any] = pm.to_dict() if pm is not None else {}
    for key in ("closed_model", "open_model", "max_gap", "confidence"):
        stats.pop(key, None)  # said once, at the top
    ranges = {s.label: s.range for s in pm.slice_shares()} if pm is not None else {}
    return {
        "open_model": e.open_model,
        "exists": e.exists,
        "outcome": pm.outcome.value if pm is not None else None,
        "reason": e.reason,
        "note": e.note,
        **{k: v for k, v in stats.items() if k not in ("outcome", "reason")},
        "routing_rule": pa.routing_rule(e),
        "traffic": [
            {
                "slice": s.label,
                "share": s.share,
                "model": e.open_model if s.to_open else pa.closed_model,
                "range": list(r) if (r := ranges.get(s.label)) is not None else None,
                "closed_tokens": _mix(s.closed_mix),
                "open_tokens": _mix(s.open_mix),
            }
            for s in e.slices
        ],
        "cost": _cost_dict(e.cost),
    }


def partial_dict(pa: PartialAnalysis | None) -> dict[str, Any] | None:
    """summary.json's ``partial_migration`` (docs/summary.schema.json); ``None`` when not computed."""
    if pa is None:
        return None
    best = pa.recommended()
    return {
        "closed_model": pa.closed_model,
        "scorer": pa.scorer,
        "allow": pa.allow,
        "fields": list(pa.fields),
        "length_buckets": pa.length_buckets,
        "max_gap": pa.max_gap,
        "confidence": pa.confidence,
        "note": pa.note,
        "recommended": best.open_model if best is not None else None,
        "routing_rule": pa.routing_rule(best) if best is not None else None,
        "models": [_entry_dict(pa, e) for e in pa.entries],
    }


# --- display ------------------------------------------------------------------------------------


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}".replace("-", "−")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _gap_text(est: BlendEstimate | None) -> str:
    if est is None:
        return "—"
    g = est.gap
    return f"{_pp(g.gap)} pp [{_pp(g.low)}, {_pp(g.high)}]"


def _moved_text(e: PartialEntry) -> str:
    pm = e.migration
    if pm is None or pm.field is None:
        return "—"
    if pm.ranges():
        parts = [f"{lo}–{hi - 1}" if hi is not None else f"≥ {lo}" for lo, hi in pm.ranges()]
        return f"input of {' or '.join(parts)} characters"
    return f"{pm.field} in {{{', '.join(pm.moved)}}}"


def _money(e: PartialEntry, volume: Volume | None) -> tuple[str, str]:
    """(saving, cost per correct answer) as display text."""
    c = e.cost
    if c is None:
        return ("—", "—") if e.migration is None or e.migration.honest is None else ("unknown", "unknown")
    if c.requests_per_month is not None:
        if c.saving_usd is None:
            saving = "unknown"
        elif c.saving_usd >= 0:
            saving = f"{fmt_usd(c.saving_usd)}/month ({_pct(c.saving_fraction)})"
        else:
            saving = f"costs {fmt_usd(-c.saving_usd)}/month more"
        saving += f" at {volume.describe()}" if volume is not None else ""
    elif c.blend_per_1k_requests_usd is not None and c.all_closed_per_1k_requests_usd is not None:
        saving = (
            f"{fmt_usd(c.blend_per_1k_requests_usd)} vs {fmt_usd(c.all_closed_per_1k_requests_usd)} "
            "per 1,000 requests (no volume given)"
        )
    else:
        saving = "unknown" if volume is not None else "— (no volume given)"
    if c.blend_cost_per_correct_usd is None and c.all_closed_cost_per_correct_usd is None:
        per_correct = "unknown"
    else:
        per_correct = f"{fmt_usd(c.blend_cost_per_correct_usd)} vs {fmt_usd(c.all_closed_cost_per_correct_usd)} all-closed"
    return saving, per_correct


def partial_rows(pa: PartialAnalysis | None, volume: Volume | None = None) -> list[dict[str, Any]]:
    """One display row per open model (HTML and Markdown): outcome, slices to move, traffic share,
    the held-out and in-sample blend gaps, saving and cost per correct answer, the reason, the rule."""
    if pa is None:
        return []
    rows = []
    for e in pa.entries:
        pm = e.migration
        honest = pm.honest if pm is not None else None
        share = (
            f"{_pct(honest.share.estimate)} [{_pct(honest.share.low)}, {_pct(honest.share.high)}]"
            if honest is not None
            else "—"
        )
        saving, per_correct = _money(e, volume)
        rule = pa.routing_rule(e)
        rows.append(
            {
                "name": e.open_model,
                "exists": e.exists,
                "outcome": OUTCOME_WORDS.get(pm.outcome.value, pm.outcome.value) if pm else "not computed",
                "moved": _moved_text(e),
                "field": pm.field if pm is not None else None,
                "share": share,
                "gap": _gap_text(honest),
                "n": f"{honest.n_examples:,}" if honest is not None else "—",
                "naive": _gap_text(pm.naive if pm is not None else None),
                "saving": saving,
                "per_correct": per_correct,
                "reason": e.reason,
                "fields": field_lines(pm) if pm is not None else [],
                "rule": json.dumps(rule, ensure_ascii=False, sort_keys=True) if rule is not None else None,
                "slices": [] if pm is None else [_slice_row(s) for s in pm.selection.slices],
                "traffic": [
                    {
                        "slice": s.label,
                        "share": _pct(s.share),
                        "model": e.open_model if s.to_open else (pa.closed_model or "closed"),
                        "closed_tokens": _tokens(s.closed_mix),
                        "open_tokens": _tokens(s.open_mix) if s.to_open else "—",
                    }
                    for s in e.slices
                ],
                "breakdown": _breakdown(e.cost),
                "unknowns": list(e.cost.unknowns) if e.cost is not None else [],
            }
        )
    return rows


def field_lines(pm: PartialMigration) -> list[str]:
    """Per routing field, what the selection half showed, e.g. ``type: 0 of 18 slices shown within
    max_gap; 18 too small to judge (12-13 examples each in the selection half, 30 needed)``."""
    out = []
    for cut in pm.slicings:
        verdicts = pm.selection.of_field(cut.field)
        moved = [v for v in verdicts if v.status == "move"]
        small = [v for v in verdicts if v.status == "too_small"]
        line = f"{cut.field}: {len(moved)} of {len(verdicts)} slices shown within max_gap {pm.margin:g}"
        if moved:
            line += f" ({', '.join(v.label for v in moved)})"
        if small:
            lo, hi = min(v.n_examples for v in small), max(v.n_examples for v in small)
            each = f"{lo}" if lo == hi else f"{lo}-{hi}"
            line += (
                f"; {len(small)} too small to judge ({each} examples each in the selection half, "
                f"{MIN_RELIABLE_N} needed)"
            )
        if cut.field == pm.field:
            line += "; the rule routes on this field"
        out.append(line)
    return out


def _tokens(m: TokenMix | None) -> str:
    return "unknown" if m is None else f"{m.mean_input:,.0f} / {m.mean_output:,.0f}"


def _breakdown(c: BlendCost | None) -> str | None:
    """``all-closed $2,400/month; blend $1,340 = closed part $1,200 + open part $140`` (with a volume)."""
    if c is None or c.requests_per_month is None:
        return None
    return (
        f"all-closed {fmt_usd(c.all_closed_monthly_usd)}/month; blend {fmt_usd(c.blend_monthly_usd)} = "
        f"closed part {fmt_usd(c.closed_part_usd)} + open part {fmt_usd(c.open_part_usd)} "
        f"({c.requests_per_month:,.0f} requests/month)"
    )


def _slice_row(s: Any) -> dict[str, str]:
    interval = f"[{s.low:+.3f}, {s.high:+.3f}]" if s.low is not None and s.high is not None else "—"
    holm = (
        f"{s.holm_high:+.3f} at {100 * s.holm_confidence:.4g} %"
        if s.holm_high is not None and s.holm_confidence is not None
        else "—"
    )
    return {
        "field": s.field,
        "slice": s.label,
        "n": str(s.n_examples),
        "gap": "—" if s.gap is None else f"{s.gap:+.3f}",
        "ci": interval,
        "holm": holm,
        "status": s.status.replace("_", " "),
    }


def settings_text(pa: PartialAnalysis) -> str:
    """``Routing fields: type + 3 input-length buckets · max_gap 0.05 · 95 % · the gate may migrate partially``."""
    fields = ", ".join(pa.fields) or "no tag field"
    lengths = f" + {pa.length_buckets} input-length buckets" if pa.length_buckets else ""
    margin = f"max_gap {pa.max_gap:g}" if pa.max_gap is not None else "no max_gap"
    gate = (
        "the gate may answer migrate partially (exit 5)"
        if pa.allow
        else "informational (gate.partial.allow is off)"
    )
    return f"Routing fields: {fields}{lengths} · {margin} · {pa.confidence * 100:g} % · {gate}"


def partial_markdown(
    pa: PartialAnalysis | None, esc: Callable[[Any], str], volume: Volume | None = None
) -> list[str]:
    """summary.md's Partial migration section (``esc`` escapes every value)."""
    if pa is None:
        return []
    lines = ["", f"### Partial migration (vs {esc(pa.closed_model or '—')})", "", esc(settings_text(pa))]
    if pa.note is not None:
        return [*lines, "", esc(pa.note)]
    lines += [
        "",
        "| open model | outcome | slices to move | held-out examples | traffic share | blend gap (all-closed − blend) "
        "| saving | cost per correct answer |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = partial_rows(pa, volume)
    for r in rows:
        lines.append(
            f"| {esc(r['name'])} | {esc(r['outcome'])} | {esc(r['moved'])} | {esc(r['n'])} | {esc(r['share'])} | "
            f"{esc(r['gap'])} | {esc(r['saving'])} | {esc(r['per_correct'])} |"
        )
    lines.append("")  # a list glued to a table is a table row to some renderers
    for r in rows:
        lines.append(f"- {esc(r['name'])}: {esc(r['reason'])}")
        lines += [f"  - {esc(f)}" for f in r["fields"]]
        if r["rule"] is not None and r["exists"]:
            lines.append(f"- routing rule for {esc(r['name'])}: {esc(r['rule'])}")
        lines += [f"- unknown: {esc(u)}" for u in r["unknowns"]]
    return lines
