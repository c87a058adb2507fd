"""Executing the work: recorded answers and cache hits replayed in blocks, then every other cell
through the network.

:meth:`FanOut.replay` first writes the replayed models' recorded answers (``replay:`` in the
suite, :mod:`evalkit.run.recorded`), then the cache hits the scan found, without any event loop: a few hundred
completions per query, scored and written to the ledger in batches. :meth:`FanOut.send_all` then
runs each model's pool of ``concurrency`` workers over the cells left to send; each attempt runs
in this process or in a worker process (``send``), while retries, the adaptive limiter, the
budget, the cache and the ledger stay here. A result is written the moment it is scored (the
ledger is flushed at the end of the event-loop turn it landed in). A 401/403 stops that model's
remaining requests (they are not written, so a resume after fixing the key sends them); every
other failure is recorded as data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from evalkit.run.budget import Budget
from evalkit.run.cache import ResponseCache, request_key
from evalkit.config.catalog import key_var
from evalkit.config.prompt import Renderer
from evalkit.run.plan import ModelPlan, Work
from evalkit.run.progress import RunProgress
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.providers.litellm import Send
from evalkit.providers.retry import PACED_WAIT_MAX_S, complete
from evalkit.rundir.ledger import LedgerWriter
from evalkit.scorers.registry import ScoreFn
from evalkit.types import Completion, ErrorKind, Request, Result, Sample, Score

__all__ = ["FanOut"]

REPLAY_CHUNK = 500


class FanOut:
    """Runs a :class:`~evalkit.run.plan.Work` for the runnable models, writing every result to the ledger."""

    def __init__(
        self,
        *,
        plans: list[ModelPlan],
        samples: list[Sample],
        renderer: Renderer,
        scorers: dict[str, ScoreFn],
        cache: ResponseCache | None,
        ledger: LedgerWriter,
        progress: RunProgress,
        budget: Budget,
        echo: Callable[[str], None],
        send: Send | None = None,
    ) -> None:
        self.plans = plans
        self.samples = samples
        self.renderer = renderer
        self.scorers = scorers
        self.cache = cache
        self.ledger = ledger
        self.progress = progress
        self.budget = budget
        self.echo = echo
        self.send = send
        self._flush_scheduled = False

    # --- cache hits --------------------------------------------------------------------------

    def replay(self, work: Work) -> None:
        """Write the replayed models' recorded answers, then every cache hit of ``work``; a cache entry
        found corrupt goes back to the cells to send."""
        self._replay_recorded()
        assert self.cache is not None or not work.hits
        hits, work.hits = work.hits, []
        for start in range(0, len(hits), REPLAY_CHUNK):
            chunk = hits[start : start + REPLAY_CHUNK]
            assert self.cache is not None
            found = self.cache.get_many(k for *_, k in chunk)
            counts = [0] * len(self.plans)
            for pi, epoch, si, key in chunk:
                completion = found.get(key)
                if completion is None:
                    work.mark_to_send(pi, epoch, si)
                    continue
                plan = self.plans[pi]
                self.ledger.append(self._result(plan, self.samples[si], epoch, completion, key))
                counts[pi] += 1
            for plan, n in zip(self.plans, counts, strict=True):
                if n:
                    plan.done += n
                    plan.cached += n
                    self.progress.advance(plan.name, n, errors=0, cost=0.0)
        self.ledger.flush()

    def _replay_recorded(self) -> None:
        """Each replayed model's pending cells from its recorded answers (:mod:`evalkit.run.recorded`): never
        sent, never cached, no budget; a cell without a recorded answer is a ``replay_missing`` error."""
        for plan in self.plans:
            if plan.replay is None or plan.replay_todo is None:
                continue
            todo, plan.replay_todo = plan.replay_todo, None
            n = errors = 0
            for epoch, row in enumerate(todo):
                si = row.find(1)
                while si != -1:
                    sample = self.samples[si]
                    completion, key = plan.replay.answer(sample.id, epoch)
                    self.ledger.append(self._result(plan, sample, epoch, completion, key))
                    n += 1
                    errors += not completion.ok
                    if n % REPLAY_CHUNK == 0:
                        self.ledger.flush()
                    si = row.find(1, si + 1)
            if n:
                plan.done += n
                plan.errors += errors
                plan.replayed += n
                self.progress.advance(plan.name, n, errors=errors, cost=0.0)
            self.ledger.flush()

    # --- the network -------------------------------------------------------------------------

    async def send_all(self, work: Work) -> None:
        """Send every cell of ``work`` left to send, each model with its own pool of workers."""

        async def run_model(pi: int, plan: ModelPlan) -> None:
            plan.limiter = AdaptiveLimiter(plan.concurrency, max_pause_s=PACED_WAIT_MAX_S)
            cells = work.cells_to_send(pi)

            async def worker() -> None:
                for si, epoch in cells:  # shared iterator: each cell is taken by exactly one worker
                    if plan.status != "ok" or self.budget.exhausted:
                        return
                    result = await self._one(plan, self.samples[si], epoch)
                    if result is None:
                        continue
                    self._write(result)
                    plan.done += 1
                    plan.errors += not result.completion.ok
                    self.progress.advance(
                        plan.name, 1, errors=int(not result.completion.ok), cost=result.completion.cost_usd
                    )

            await asyncio.gather(*(worker() for _ in range(plan.concurrency)))

        try:
            await asyncio.gather(*(run_model(i, p) for i, p in enumerate(self.plans) if work.send_count(i)))
        finally:
            self.ledger.flush()

    def _write(self, result: Result) -> None:
        """Buffer the line and flush it at the end of this event-loop turn (results landing together share a write)."""
        self.ledger.append(result)
        if not self._flush_scheduled and self.ledger.pending:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        self.ledger.flush()

    async def _one(self, plan: ModelPlan, sample: Sample, epoch: int) -> Result | None:
        request = Request(
            model=plan.identity_model,
            messages=self.renderer.render(sample),
            params=plan.params,
            api_base=plan.identity_base,
            epoch=epoch,
        )
        key = request_key(request)
        if not await self.budget.reserve(plan.name):
            return None  # over budget: not sent, not written; the worker stops
        try:
            completion = await complete(
                request,
                policy=plan.policy,
                api_key=plan.api_key,
                pricing=plan.pricing,
                call_model=plan.call_model,
                call_base=plan.call_base,
                limiter=plan.limiter,
                send=self.send if plan.replicas is None else plan.replicas.route(self.send),  # per request
            )
        except BaseException:
            self.budget.settle(plan.name, None)
            raise
        self.budget.settle(plan.name, completion.cost_usd)
        if completion.error is not None and completion.error.kind == ErrorKind.AUTH:
            if plan.status == "ok":
                env = plan.config.api_key_env or key_var(plan.config.model)
                plan.status = "stopped"
                plan.reason = (
                    f"HTTP {completion.error.status}: the provider rejected the credentials; check {env}"
                )
                self.echo(f"stopping {plan.name}: {plan.reason}")
            return None  # not written: a resume with a fixed key sends it
        if self.cache is not None:
            self.cache.put(key, completion)  # in the cache before it is in the ledger
        return self._result(plan, sample, epoch, completion, key)

    # --- results -----------------------------------------------------------------------------

    def _result(
        self, plan: ModelPlan, sample: Sample, epoch: int, completion: Completion, key: str
    ) -> Result:
        return Result(
            sample_id=sample.id,
            model=plan.name,
            epoch=epoch,
            completion=completion,
            scores=self._score(completion, sample) if completion.ok else {},
            request_key=key,
            input=sample.input,
            expected=sample.expected,
            tags=sample.tags,
            at=time.time(),
        )

    def _score(self, completion: Completion, sample: Sample) -> dict[str, Score]:
        text = completion.text or ""
        out = {}
        for key, fn in self.scorers.items():
            try:
                out[key] = fn(text, sample)
            except Exception as exc:  # a scorer bug must not lose the completion
                out[key] = Score(
                    0.0, None, f"scorer raised {type(exc).__name__}: {exc}", label="scorer_error"
                )
        return out
