"""``evalkit batch status RUN_DIR``: the run's batch jobs as its ``batches.json`` records them.

Read from the run folder alone (no network, no key): the running (or interrupted) ``evalkit run``
updates the file at every poll. One line per job, then the totals and what to do next.
"""

from __future__ import annotations

import time
from pathlib import Path

from evalkit.errors import RunDirError
from evalkit.rundir.batches import STATE_NAME, BatchState
from evalkit.rundir.manifest import read_manifest

__all__ = ["batch_status"]


def _ago(t: float | None) -> str:
    if t is None:
        return "-"
    s = max(0, int(time.time() - t))
    return f"{s // 3600}h{s % 3600 // 60:02d}m ago" if s >= 3600 else f"{s // 60}m{s % 60:02d}s ago"


def batch_status(run_dir: Path) -> str:
    """The status table of ``run_dir``'s batch jobs (:class:`RunDirError` when it has none)."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run folder")
    manifest = read_manifest(run_dir)
    state = BatchState.load(run_dir)
    if not state.jobs:
        raise RunDirError(f"{run_dir}: this run has no batch jobs ({STATE_NAME} is missing or empty)")
    rows = [
        (
            "job",
            "provider",
            "batch id",
            "attempt",
            "requests",
            "state",
            "provider says",
            "counts",
            "submitted",
        )
    ]
    for j in state.jobs:
        counts = ", ".join(f"{k} {v}" for k, v in j.counts.items() if v) or "-"
        rows.append(
            (
                j.job,
                j.provider,
                j.batch_id or "(not confirmed)",
                str(j.attempt),
                str(len(j.requests)),
                j.status,
                j.provider_status or "-",
                counts,
                _ago(j.submitted_at),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    waiting = [j for j in state.jobs if j.status != "done"]
    n_wait = sum(len(j.requests) for j in waiting)
    run_status = manifest.status
    lines.append("")
    lines.append(
        f"{len(state.jobs)} job(s), {len(waiting)} waiting ({n_wait} request(s)); the run is {run_status}"
    )
    if waiting and run_status != "running":
        lines.append(f"continue polling with: evalkit run --resume {run_dir}")
    return "\n".join(lines)
