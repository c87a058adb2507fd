"""Phase 1 of a run: every check that can fail before anything is written or sent.

Refuse a resume whose suite, data or shard changed; load and check the recorded baselines; render
every sample and sort the pending cells into cache hits and cells to send
(:func:`evalkit.run.work.scan`); check that every self-hosted endpoint that will be sent to accepts
connections (a model served wholly from the cache needs no server).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import InfrastructureError, RunDirError
from evalkit.providers.doctor import check_endpoints
from evalkit.run.cache import ResponseCache
from evalkit.run.context import RunContext
from evalkit.run.plan import ModelPlan
from evalkit.run.recorded import load_replays
from evalkit.run.work import Work, scan, set_aside_recorded
from evalkit.rundir.ledger import Cell, done_cells
from evalkit.rundir.manifest import Manifest, read_manifest

__all__ = ["Prepared", "preflight"]


@dataclass
class Prepared:
    """What the preflight found: the cells already done, the pending work, the cache to use."""

    done: set[Cell]
    work: Work
    """Over the runnable models (``ctx.runnable``), in that order."""
    cache: ResponseCache | None
    recorded_todo: dict[int, list[bytearray]]
    """Runnable index -> the replayed model's cells to answer from its recording."""


def preflight(ctx: RunContext, resume_dir: Path | None) -> Prepared:
    """Check everything (raising a one-line error) and find the run's work."""
    resumed = read_manifest(resume_dir) if resume_dir is not None else None
    done = (
        _check_resume(ctx, resume_dir, resumed) if resume_dir is not None and resumed is not None else set()
    )
    _load_recorded(ctx, resumed)
    runnable = [ctx.plans[i] for i in ctx.runnable]
    cache = ResponseCache.default() if ctx.options.use_cache and runnable else None
    try:
        t0 = time.perf_counter()
        work = scan(ctx.samples, ctx.renderer, runnable, ctx.suite.epochs, done, cache, ctx.options.shard)
        ctx.execution["seconds"] = {"scan": round(time.perf_counter() - t0, 3)}
        replayed = {k for k, p in enumerate(runnable) if p.replay_path is not None}
        recorded_todo = set_aside_recorded(work, replayed)  # replayed models send nothing
        _check_endpoints(ctx, [p for k, p in enumerate(runnable) if work.send_count(k)])
    except BaseException:
        if cache is not None:
            cache.close()
        raise
    return Prepared(done, work, cache, recorded_todo)


def _check_resume(ctx: RunContext, resume_dir: Path, manifest: Manifest) -> set[Cell]:
    """Refuse a resume whose suite, data or shard changed; the cells already in the ledger."""
    if manifest.suite.hash != ctx.loaded.suite_hash:
        raise RunDirError(
            f"{resume_dir}: the suite changed since this run started "
            f"({ctx.loaded.path}); start a new run instead of resuming"
        )
    if manifest.dataset.sha256 != ctx.dataset.sha256:
        raise RunDirError(
            f"{resume_dir}: the dataset {ctx.dataset.path} changed since this run started; "
            "start a new run instead of resuming"
        )
    recorded, wanted = manifest.shard, ctx.options.shard
    if recorded != wanted:
        raise RunDirError(
            f"{resume_dir}: this run is {f'shard {recorded}' if recorded else 'not sharded'}; it cannot "
            f"be resumed as {f'shard {wanted}' if wanted else 'an unsharded run'}"
        )
    warnings: list[str] = []
    done = done_cells(resume_dir, warnings)
    for w in warnings:
        ctx.echo(f"warning: {w} (that cell will be sent again)")
    return done


def _load_recorded(ctx: RunContext, resumed: Manifest | None) -> None:
    """Load the replayed models' answers (:mod:`evalkit.run.recorded`); ConfigError when not comparable."""
    sources = {
        i: (p.name, p.replay_path, p.config.replay_model or p.name)
        for i, p in enumerate(ctx.plans)
        if p.replay_path is not None
    }
    ctx.replays = load_replays(
        sources,
        samples=ctx.samples,
        all_samples=ctx.dataset.samples,
        epochs=ctx.suite.epochs,
        dataset_sha256=ctx.dataset.sha256,
        task_hash=ctx.loaded.task_hash,
        suite_path=ctx.loaded.path,
        resumed=resumed,
    )


def _check_endpoints(ctx: RunContext, sending: list[ModelPlan]) -> None:
    """Stop (exit 3) before the first request when a self-hosted server does not accept connections."""
    failed, degraded = check_endpoints([p.config for p in sending])
    for c in degraded:  # some replicas down: the others take the requests
        ctx.echo(f"warning: {c.model}: {c.detail}")
    if failed:
        names = "; ".join(f"{c.model}: {c.detail}" for c in failed)
        raise InfrastructureError(f"{names} — start the server or fix api_base (nothing was sent)")
