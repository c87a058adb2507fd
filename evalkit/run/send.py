"""Phase 3 of a run: land everything pending, every answer through the one recorder.

First what needs no network (the recorded baselines' answers, then the cache hits), then the
providers' batch APIs are handed their models' cells, then the network (:mod:`evalkit.run.live`;
from worker processes when one core cannot keep up, :mod:`evalkit.providers.pool`), and last the
batches are polled until they have ended. The embedded models' servers are started only when they
have something to send, and stopped however the phase ends. Ctrl+C and SIGTERM end it as
``interrupted``: what landed is on disk.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalkit.errors import InfrastructureError
from evalkit.providers.litellm import litellm_module
from evalkit.providers.local import ensure_local_model, stop_local_models
from evalkit.providers.pool import WorkerPool, cpu_cores, pool_size
from evalkit.report.process import ReportProcess
from evalkit.run.batch import BatchRun, poll_interval, uses_batch
from evalkit.run.cache import ResponseCache
from evalkit.run.cached import write_cache_hits
from evalkit.run.context import RunContext
from evalkit.run.live import LiveSender
from evalkit.run.plan import ModelPlan
from evalkit.run.preflight import Prepared
from evalkit.run.progress import RunProgress
from evalkit.run.recorded import Replay, write_recorded
from evalkit.run.recorder import Recorder
from evalkit.run.state import ModelState
from evalkit.run.work import Work
from evalkit.rundir.ledger import LedgerWriter, iter_results
from evalkit.rundir.manifest import Manifest, now_iso, write_manifest

__all__ = ["send"]


def send(ctx: RunContext, run_dir: Path, manifest: Manifest, prep: Prepared) -> str:
    """Land everything pending; ``finished`` or ``interrupted`` (Ctrl+C, SIGTERM). An
    :class:`InfrastructureError` marks the run ``failed`` (what landed stays) and is raised on."""
    to_send = [prep.work.send_count(k) for k in range(len(ctx.runnable))]
    _announce(ctx, run_dir, prep, to_send)
    pool: WorkerPool | None = None
    ledger: LedgerWriter | None = None
    try:
        if any(to_send):
            t0 = time.perf_counter()
            pool = _start_pool(ctx, to_send)
            ctx.execution["seconds"]["start"] = round(time.perf_counter() - t0, 3)
            _start_local_servers(ctx, [i for i, n in zip(ctx.runnable, to_send, strict=True) if n])
        ledger = LedgerWriter(run_dir / "samples.jsonl", batch=True)
        return _land(ctx, prep, ledger, pool)
    except InfrastructureError:
        manifest.update(status="failed", finished_at=now_iso())
        write_manifest(run_dir, manifest)
        raise
    finally:
        _close(ctx, ledger, pool, prep.cache)


def _announce(ctx: RunContext, run_dir: Path, prep: Prepared, to_send: list[int]) -> None:
    active = {ctx.plans[i].name for i in ctx.runnable}
    remaining = ctx.planned - sum(1 for c in prep.done if c[1] in active)
    if ctx.resuming and ctx.budget.cap_usd is not None:  # what the run it continues spent
        ctx.budget.spent_usd = sum(
            r.completion.cost_usd or 0.0 for r in iter_results(run_dir) if not r.completion.cached
        )
    if ctx.budget.cap_usd is not None:
        for i in ctx.runnable:
            p = ctx.plans[i]
            if p.pricing is None and not p.is_local and p.replay_path is None:
                ctx.echo(f"note: max_cost_usd counts {p.name} only where LiteLLM knows its price")
    shard = ctx.options.shard
    ctx.echo(
        f"run {run_dir}: {len(active)} model(s) x {len(ctx.samples)} samples x {ctx.suite.epochs} epoch(s)"
        + (f", shard {shard}: {ctx.n_owned} of the samples" if shard else "")
        + f"; {remaining} to go, {sum(to_send)} of them not in the cache"
    )


def _land(ctx: RunContext, prep: Prepared, ledger: LedgerWriter, pool: WorkerPool | None) -> str:
    """Recorded answers and cache hits, then the batch APIs and the network, through one recorder."""
    active = ctx.runnable
    plans, states = [ctx.plans[i] for i in active], [ctx.states[i] for i in active]
    progress = RunProgress(
        [(p.name, ctx.n_owned * ctx.suite.epochs) for p in plans], enabled=ctx.options.progress, echo=ctx.echo
    )
    for p, s in zip(plans, states, strict=True):
        s.done = sum(1 for c in prep.done if c[1] == p.name)
        progress.advance(p.name, s.done, errors=0, cost=None, initial=True)
    recorder = Recorder(
        plans=plans,
        states=states,
        scorers=ctx.scorers,
        reads=ctx.reads,
        cache=prep.cache,
        ledger=ledger,
        progress=progress,
        budget=ctx.budget,
    )
    replays = {k: ctx.replays[i] for k, i in enumerate(active) if i in ctx.replays}
    sender = LiveSender(
        plans=plans,
        states=states,
        samples=ctx.samples,
        renderer=ctx.renderer,
        recorder=recorder,
        budget=ctx.budget,
        echo=ctx.echo,
        send=pool.send if pool is not None else None,
    )
    timings = ctx.execution.setdefault("seconds", {})
    try:
        with _sigterm_interrupts(), progress:
            t0 = time.perf_counter()
            asyncio.run(_land_offline(ctx, recorder, replays, prep))
            timings["replay"] = round(time.perf_counter() - t0, 3)
            batches = _batches(ctx, plans, states, prep.work, recorder, ledger.path.parent)
            if batches is not None:
                batches.submit()
            if any(prep.work.send_count(k) for k in range(len(plans))):
                t0, c0 = time.perf_counter(), time.process_time()
                asyncio.run(_land_live(sender, prep.work, pool))
                timings["send"] = round(time.perf_counter() - t0, 3)
                ctx.execution["send_cpu_s"] = round(time.process_time() - c0, 3)
            if batches is not None:
                batches.finish()  # poll until every batch has ended, writing what lands
    except KeyboardInterrupt:
        return "interrupted"
    return "finished"


async def _land_offline(
    ctx: RunContext, recorder: Recorder, replays: dict[int, Replay], prep: Prepared
) -> None:
    """The recorded baselines' answers, then every cache hit: no network."""
    await write_recorded(recorder, replays, prep.recorded_todo, ctx.samples)
    if prep.cache is not None:
        await write_cache_hits(prep.work, prep.cache, recorder, ctx.samples)
    recorder.flush()


async def _land_live(sender: LiveSender, work: Work, pool: WorkerPool | None) -> None:
    if pool is None:
        return await sender.send_all(work)
    await pool.open()
    try:
        await sender.send_all(work)
    finally:
        pool.detach()


def _batches(
    ctx: RunContext,
    plans: list[ModelPlan],
    states: list[ModelState],
    work: Work,
    recorder: Recorder,
    run_dir: Path,
) -> BatchRun | None:
    """The models that go through their provider's batch API, their cells taken off the live work;
    None when no model does."""
    chosen = [(k, p) for k, p in enumerate(plans) if uses_batch(p, ctx.options.batch)]
    if not chosen:
        return None
    batches = BatchRun(
        run_dir=run_dir,
        plans=chosen,
        states=states,
        samples=ctx.samples,
        renderer=ctx.renderer,
        recorder=recorder,
        echo=ctx.echo,
        poll_s=poll_interval(ctx.options.batch_poll_s),
    )
    batches.take(work)
    return batches


def _start_pool(ctx: RunContext, to_send: list[int]) -> WorkerPool | None:
    """Import LiteLLM before the clock of the fan-out starts; fork workers if one core cannot keep up."""
    runnable = [ctx.plans[i] for i in ctx.runnable]
    in_flight = sum(p.concurrency for p, n in zip(runnable, to_send, strict=True) if n)
    n = pool_size(ctx.options.workers, cores=cpu_cores(), in_flight=in_flight, to_send=sum(to_send))
    if n == 0:
        litellm_module()
        return None
    ctx.execution["workers"] = n
    # Forked first: it imports the report writer on the core LiteLLM's import leaves idle.
    ctx.reporter = ReportProcess.start()
    return WorkerPool(n).start()


def _start_local_servers(ctx: RunContext, indexes: list[int]) -> None:
    """Start the embedded models that send; their plans then call the server that came up."""
    for i in indexes:
        plan = ctx.plans[i]
        if not plan.is_local:
            continue
        alias = plan.config.model.split("/", 1)[1]
        ctx.echo(f"starting the embedded model {alias} (llama.cpp, CPU)...")
        endpoint = ensure_local_model(alias)
        ctx.plans[i] = plan.with_endpoint(endpoint.litellm_model, endpoint.api_base, endpoint.api_key)


def _close(
    ctx: RunContext, ledger: LedgerWriter | None, pool: WorkerPool | None, cache: ResponseCache | None
) -> None:
    if ledger is not None:
        ledger.close()
    if pool is not None:
        pool.close()
        ctx.execution["worker_cpu_s"] = [round(c, 3) for c in pool.cpu_s]
    if cache is not None:
        if cache.corrupt:
            ctx.echo(f"warning: {cache.corrupt} corrupt cache entr(y/ies) in {cache.path} were dropped")
        cache.close()
    stop_local_models()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM is treated like Ctrl+C, so both leave a resumable run."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
