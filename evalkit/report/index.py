"""``index.html`` over every run under a results folder: suite, date, status, verdict, link.

:func:`write_report` rewrites it after each report. The results folder of a run
``results/<suite>/<run id>/`` is ``results/``; a run folder laid out otherwise (``--output DIR``)
gets no index. Runs are found as ``*/run.json`` and ``*/*/run.json``; the verdict is read from
each run's ``summary.json`` (``—`` when the run has none yet), so indexing never re-aggregates.
Self-contained and escaped like report.html (autoescape, no script at all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from evalkit._util.io import atomic_write_text
from evalkit.errors import RunDirError
from evalkit.rundir.manifest import read_manifest

__all__ = ["index_root", "render_index", "scan_runs", "write_index"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def index_root(run_dir: Path, suite: str | None) -> Path | None:
    """``results/`` for a run folder laid out as ``results/<suite>/<run>``; ``None`` for a run
    folder elsewhere (``--output DIR``): evalkit does not write into a folder it did not make."""
    run_dir = run_dir.resolve()
    return run_dir.parent.parent if suite and run_dir.parent.name == suite else None


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def scan_runs(root: Path) -> list[dict[str, Any]]:
    """One row per run folder under ``root`` (depth 1 or 2), newest first."""
    rows = []
    for manifest_path in sorted({*root.glob("*/run.json"), *root.glob("*/*/run.json")}):
        run = manifest_path.parent
        try:
            m = read_manifest(run)
        except RunDirError:
            continue  # not a run folder evalkit can read: not listed
        s = _read(run / "summary.json")
        verdict = _obj(s.get("verdict"))
        rel = run.relative_to(root).as_posix()
        rows.append(
            {
                "suite": m.suite.name or "?",
                "run_id": m.run_id or run.name,
                "started_at": m.started_at or "",
                "status": m.status if m.status != "unknown" else "?",
                "verdict": str(verdict.get("verdict") or "—"),
                "sentence": str(verdict.get("sentence") or ""),
                "href": f"./{quote(rel)}/report.html" if (run / "report.html").exists() else None,
            }
        )
    rows.sort(key=lambda r: (r["started_at"], r["run_id"]), reverse=True)
    return rows


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="referrer" content="no-referrer">
<title>evalkit runs</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1.5rem; max-width: 1200px; color: #1d2430; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #d9dee6; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } .v-migrate { color: #1a7f37; font-weight: 600; } .v-stay { color: #c62828; font-weight: 600; }
.v-inconclusive, .v-cannot { color: #9a6700; font-weight: 600; } .muted { color: #5b6575; }
</style></head><body>
<h1>evalkit runs</h1>
<p class="muted">{{ rows|length }} run(s) under this folder, newest first.</p>
<table id="runs"><thead><tr><th>suite</th><th>run</th><th>started</th><th>status</th><th>verdict</th></tr></thead>
<tbody>
{% for r in rows %}<tr><td>{{ r.suite }}</td><td>{% if r.href %}<a href="{{ r.href }}">{{ r.run_id }}</a>{% else %}{{ r.run_id }}{% endif %}</td>
<td>{{ r.started_at }}</td><td>{{ r.status }}</td><td><span class="v-{{ r.verdict.split(' ')[0] }}">{{ r.verdict }}</span>{% if r.sentence %}<br><span class="muted">{{ r.sentence }}</span>{% endif %}</td></tr>
{% endfor %}</tbody></table>
</body></html>
"""


def render_index(rows: list[dict[str, Any]]) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(rows=rows, csp=_CSP)


def write_index(root: Path) -> Path:
    path = atomic_write_text(root / "index.html", render_index(scan_runs(root)), errors="replace")
    return path
