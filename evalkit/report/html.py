"""``report.html``: one self-contained page (inline CSS and one hashed inline script, no request
leaves the page: the Content-Security-Policy forbids it), rendered by Jinja2 with autoescape on.
All model output, inputs, explanations and names go through autoescape; nothing from the run
folder is ever marked safe or placed inside the script.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from evalkit._util.io import atomic_write_text
from evalkit.analysis.gaps import gap_plan
from evalkit.analysis.outcome import GateOutcome, Overall, format_gate, gate_exit_code
from evalkit.analysis.partial import PartialAnalysis
from evalkit.analysis.summary import ALL, GapSummary, ModelSummary, RunSummary, UsageStat
from evalkit.economics import Economics
from evalkit.report.charts import scatter_chart, slice_chart
from evalkit.report.economics_view import display_rows, fmt_usd, fmt_volume, money_lines, table_header
from evalkit.report.examples import Example
from evalkit.report.partial_view import partial_rows, settings_text
from evalkit.report.scorer_views import scorer_sections, structured_output_lines
from evalkit.report.verdict import model_rows, task_verdict
from evalkit.rundir.manifest import Manifest
from evalkit.stats import MIN_RELIABLE_N

__all__ = [
    "CSP",
    "EXAMPLE_VIEWS",
    "FILTER_SCRIPT",
    "PAGE_ROWS",
    "example_categories",
    "render_html",
    "write_html",
]

TEMPLATE = "report.html.j2"

# The example explorer: a view (all / disagreements / closed right-open wrong / open right-closed
# wrong / errors, or ``#filter=NAME`` in the URL), a text search and pages of PAGE rows. It reads
# only the DOM, never data interpolated into the script. Each row's text is lower-cased once; the
# search applies 150 ms after the last keystroke and only rows whose visibility changes are
# touched (re-laying out 500 rows costs ~0.3-0.6 s in Chromium, per keystroke before this). When
# done it sets data-ready="1", data-shown (rows in the view) and data-search (the search text
# applied) on the table and, when filtered, the count in the title (the browser tests read them),
# and marks the moment as the performance mark "evalkit:explorer-ready" (bench/report_size.py).
FILTER_SCRIPT = """(function () {
  var table = document.getElementById("examples");
  var q = document.getElementById("ex-filter");
  var sel = document.getElementById("ex-view");
  if (!table || !q || !sel) { return; }
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
  var texts = rows.map(function (tr) { return tr.textContent.toLowerCase(); });
  var PAGE = 500, page = 0, shown = [], needle = "", timer = null;
  var info = document.getElementById("ex-info");
  var pager = document.getElementById("ex-pager");
  var prev = document.getElementById("ex-prev"), next = document.getElementById("ex-next");
  var baseTitle = document.title;
  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    if (page > pages - 1) { page = pages - 1; }
    if (page < 0) { page = 0; }
    var on = new Set(shown.slice(page * PAGE, (page + 1) * PAGE));
    rows.forEach(function (tr, i) {
      var hide = !on.has(i);
      if (tr.hidden !== hide) { tr.hidden = hide; }
    });
    info.textContent = shown.length + " of " + rows.length + " rows" +
      (pages > 1 ? " \u00b7 page " + (page + 1) + " of " + pages : "");
    pager.hidden = pages < 2;
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
    table.setAttribute("data-shown", String(shown.length));
    table.setAttribute("data-search", needle);
    var filtered = sel.value !== "all" || needle !== "";
    document.title = baseTitle + (filtered ? " \u00b7 " + shown.length + " shown (" + sel.value + ")" : "");
  }
  function apply() {
    clearTimeout(timer);
    var view = sel.value, low;
    needle = q.value;
    low = needle.toLowerCase();
    shown = [];
    rows.forEach(function (tr, i) {
      var cats = " " + (tr.getAttribute("data-cat") || "") + " ";
      if ((view === "all" || cats.indexOf(" " + view + " ") !== -1) &&
          (!low || texts[i].indexOf(low) !== -1)) { shown.push(i); }
    });
    page = 0;
    render();
  }
  var m = /(?:^#|&)filter=([a-z-]+)/.exec(window.location.hash);
  if (m) {
    for (var i = 0; i < sel.options.length; i++) {
      if (sel.options[i].value === m[1]) { sel.value = m[1]; }
    }
  }
  q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 150); });
  q.addEventListener("keydown", function (e) { if (e.key === "Enter") { apply(); } });
  sel.addEventListener("change", apply);
  prev.addEventListener("click", function () { page -= 1; render(); });
  next.addEventListener("click", function () { page += 1; render(); });
  apply();
  table.setAttribute("data-ready", "1");
  if (window.performance && performance.mark) { performance.mark("evalkit:explorer-ready"); }
})();"""

EXAMPLE_VIEWS = (
    ("all", "all"),
    ("disagreements", "disagreements"),
    ("closed-right-open-wrong", "closed right, open wrong"),
    ("open-right-closed-wrong", "open right, closed wrong"),
    ("errors", "errors"),
)
PAGE_ROWS = 500


def example_categories(
    ex: Example, scorer: str | None, best_closed: str | None, groups: Mapping[str, str | None]
) -> str:
    """The explorer views a row belongs to (space-separated), from the gate scorer's values:
    closed right-open wrong when the best closed model scores higher than an open model on it (an
    open model's failed request counts as 0), and the reverse."""
    cats = []
    if ex.disagreement:
        cats.append("disagreements")

    def value(name: str) -> float | None:
        out = ex.outputs.get(name)
        if out is None:
            return None
        if out.error is not None:
            return 0.0
        return next((sc.value for sc in out.scores if sc.scorer == scorer), None)

    closed = value(best_closed) if best_closed else None
    opens = [v for n, g in groups.items() if g == "open" and (v := value(n)) is not None]
    if closed is not None and any(v < closed for v in opens):
        cats.append("closed-right-open-wrong")
    if closed is not None and any(v > closed for v in opens):
        cats.append("open-right-closed-wrong")
    if any(o.error is not None for o in ex.outputs.values()):
        cats.append("errors")
    return " ".join(cats)


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src '{_script_hash(FILTER_SCRIPT)}'; base-uri 'none'; form-action 'none'"
)


def num(x: float | int | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def ci(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def cost_text(u: UsageStat) -> str:
    if u.cost_rows == 0:
        return "—"
    if u.cost_known:
        return f"${u.cost_usd:.4f}"
    known = f" (known part ${u.cost_usd:.4f})" if u.cost_known_rows else ""
    return f"unknown for {u.cost_unknown_rows} of {u.cost_rows}{known}"


def tokens_text(u: UsageStat) -> str:
    if u.cells == 0:
        return "—"
    text = f"{u.input_tokens:,} in / {u.output_tokens:,} out"
    unknown = max(u.input_tokens_unknown, u.output_tokens_unknown)
    return text + (f" ({unknown} rows unknown)" if unknown else "")


def _svg_bar(g: GapSummary, scale: float, threshold: float | None) -> dict[str, float] | None:
    if g.gap is None:
        return None
    width, pad = 200.0, 6.0

    def x(v: float) -> float:
        v = max(-scale, min(scale, v))
        return round(pad + (v + scale) / (2 * scale) * (width - 2 * pad), 2)

    low = g.ci_low if g.ci_low is not None else g.gap
    high = g.ci_high if g.ci_high is not None else g.gap
    bar = {"width": width, "x_low": x(low), "x_high": x(high), "x_gap": x(g.gap), "x_zero": x(0.0)}
    if threshold is not None:
        bar["x_threshold"] = x(threshold)
    return bar


def _gap_rows(gaps: Sequence[GapSummary], threshold: float | None, confidence: float) -> list[dict[str, Any]]:
    bounds = [abs(v) for g in gaps for v in (g.gap, g.ci_low, g.ci_high) if v is not None]
    scale = min(1.0, max([0.05, *bounds, threshold or 0.0]) * 1.1)
    rows = []
    for g in gaps:
        plan = gap_plan(g, threshold, confidence)
        rows.append({"g": g, "bar": _svg_bar(g, scale, threshold), "plan": plan.text() if plan else None})
    return rows


_GATE_CLASS = {
    Overall.MIGRATE: "pass",
    Overall.STAY: "fail",
    Overall.INCONCLUSIVE: "inconclusive",
    Overall.INFRASTRUCTURE: "infra",
    Overall.PARTIAL: "partial",
}


def _holm_note(summary: RunSummary) -> str | None:
    """Which p-values were corrected, in words (None when no gap has a p-value)."""
    families: dict[str, int] = {}
    for g in summary.gaps:
        if g.holm_family:
            families[g.scorer] = g.holm_family
    if not families:
        return None
    parts = ", ".join(f"{n} for {sc}" for sc, n in families.items())
    return (
        "p (Holm) is each p-value Holm-corrected over its scorer's comparisons in this table and the "
        f"slices below (every open model x every slice: {parts}); p is uncorrected. "
        "The full closed x open matrix in gaps.json carries uncorrected p-values only."
    )


def _manifest_view(manifest: Manifest) -> dict[str, Any]:
    def js(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, sort_keys=True)

    return {
        "suite": manifest.suite.to_dict(),
        "dataset": manifest.dataset.to_dict(),
        "epochs": manifest.epochs,
        "started_at": manifest.started_at,
        "finished_at": manifest.finished_at,
        "versions": manifest.versions,
        "counts": manifest.counts,
        "limit": manifest.limit,
        "n_used": manifest.dataset.n_used,
        "gate": js(manifest.gate),
        "models": [
            {
                "name": m.name,
                "model": m.model,
                "group": m.group,
                "api_base": m.api_base,
                "params": js(m.params),
                "concurrency": m.concurrency,
                "price": js(m.price) if m.price is not None else "litellm price map / unknown",
            }
            for m in manifest.models
        ],
        "scorers": [{"key": s.key, "name": s.name, "args": js(s.args)} for s in manifest.scorers],
    }


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=num, pct=pct, cost=cost_text, tokens=tokens_text)
    env.globals["ci"] = ci
    return env


def render_html(
    summary: RunSummary,
    manifest: Manifest,
    examples: Sequence[Example],
    gate: GateOutcome | None,
    *,
    max_gap: float | None = None,
    example_limit: int = 200,
    economics: Economics | None = None,
    partial: PartialAnalysis | None = None,
) -> str:
    """The report page as a string (``economics``: the Economics section and the money verdict lines;
    ``partial``: the Partial migration section)."""
    slice_models: dict[str, list[ModelSummary]] = {}
    for m in summary.slices:
        slice_models.setdefault(m.slice, []).append(m)
    all_gaps = [g for g in summary.gaps if g.slice == ALL]
    model_names = [m.name for m in summary.models if m.usage.cells > 0]
    groups = {m.name: m.group for m in summary.models}
    rows = model_rows(summary)
    gs = summary.gate_scorer if summary.gate_scorer in summary.scorers else None
    chart_gaps = [g for g in summary.gaps if g.scorer == gs]
    return (
        _env()
        .get_template(TEMPLATE)
        .render(
            csp=CSP,
            script=FILTER_SCRIPT,
            s=summary,
            gs=gs,
            verdict=task_verdict(summary, gate, max_gap),
            per1k={r.name: r.cost_per_1k for r in rows},
            pareto={r.name for r in rows if r.pareto},
            slice_chart=slice_chart(chart_gaps, max_gap),
            scatter=scatter_chart(rows),
            views=EXAMPLE_VIEWS,
            page_rows=PAGE_ROWS,
            example_cats=[example_categories(ex, gs, summary.best_closed, groups) for ex in examples],
            m=_manifest_view(manifest),
            gate=gate,
            gate_text=format_gate(gate) if gate else None,
            gate_exit=int(gate_exit_code(gate)) if gate else None,
            gate_class=_GATE_CLASS.get(gate.overall, "infra") if gate else "infra",
            gaps=_gap_rows(all_gaps, max_gap, summary.confidence),
            holm_note=_holm_note(summary),
            conf_pct=f"{summary.confidence * 100:g}%",
            min_reliable=MIN_RELIABLE_N,
            slice_models=slice_models,
            slice_gaps={
                sl: [g for g in summary.gaps if g.slice == sl and g.scorer == summary.gate_scorer]
                for sl in slice_models
            },
            examples=examples,
            example_models=model_names,
            example_limit=example_limit,
            max_gap=max_gap,
            sections=scorer_sections(summary),
            structured=structured_output_lines(summary),
            econ=economics,
            econ_rows=display_rows(economics) if economics is not None else [],
            econ_head=table_header(),
            econ_table=[(e.name, [fmt_usd(e.table.get(h)) for h in table_header()]) for e in economics.models]
            if economics is not None
            else [],
            econ_requests=fmt_volume(economics.requests_per_month) if economics is not None else "",
            money=money_lines(summary, economics) if economics is not None else [],
            partial=partial,
            partial_settings=settings_text(partial) if partial is not None else "",
            partial_rows=partial_rows(partial, economics.volume if economics is not None else None),
        )
    )


def write_html(html: str, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_text(path, html, errors="replace")  # lone surrogates from the ledger
    return path
