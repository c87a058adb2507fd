"""The network: every cell left to send, each model with its own pool of ``concurrency`` workers.

Each attempt runs in this process or in a worker process (``send``, :mod:`evalkit.providers.pool`),
while retries (:func:`evalkit.providers.retry.complete`), the adaptive limiter, the budget and the
recorder stay here. A result lands the moment it comes back (:mod:`evalkit.run.recorder`; the ledger
is flushed at the end of the event-loop turn it landed in). A 401/403 stops that model's remaining
requests (they are not written, so a resume after fixing the key sends them); every other failure is
recorded as data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from evalkit.config.catalog import key_var
from evalkit.config.prompt import Renderer
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.providers.litellm import Send
from evalkit.providers.retry import PACED_WAIT_MAX_S, complete
from evalkit.run.budget import Budget
from evalkit.run.cache import request_key
from evalkit.run.plan import ModelPlan
from evalkit.run.recorder import Landing, Recorder
from evalkit.run.state import ModelState
from evalkit.run.work import Work
from evalkit.types import Completion, ErrorKind, Request, Sample

__all__ = ["LiveSender"]


class LiveSender:
    """Sends a :class:`~evalkit.run.work.Work`'s remaining cells for the runnable models."""

    def __init__(
        self,
        *,
        plans: Sequence[ModelPlan],
        states: Sequence[ModelState],
        samples: list[Sample],
        renderer: Renderer,
        recorder: Recorder,
        budget: Budget,
        echo: Callable[[str], None],
        send: Send | None = None,
    ) -> None:
        self.plans = plans
        self.states = states
        self.samples = samples
        self.renderer = renderer
        self.recorder = recorder
        self.budget = budget
        self.echo = echo
        self.send = send

    async def send_all(self, work: Work) -> None:
        """Send every cell of ``work`` left to send, each model with its own pool of workers."""
        try:
            await asyncio.gather(
                *(self._run_model(i, work) for i in range(len(self.plans)) if work.send_count(i))
            )
        finally:
            self.recorder.flush()

    async def _run_model(self, pi: int, work: Work) -> None:
        plan, state = self.plans[pi], self.states[pi]
        state.limiter = AdaptiveLimiter(plan.concurrency, max_pause_s=PACED_WAIT_MAX_S)
        cells = work.cells_to_send(pi)

        async def worker() -> None:
            for si, epoch in cells:  # shared iterator: each cell is taken by exactly one worker
                if not state.ok or self.budget.exhausted:
                    return
                landing = await self._one(pi, self.samples[si], epoch)
                if landing is not None:
                    await self.recorder.record(landing, source="live")
                    self.recorder.flush_soon()

        await asyncio.gather(*(worker() for _ in range(plan.concurrency)))

    async def _one(self, pi: int, sample: Sample, epoch: int) -> Landing | None:
        """One cell through the retry policy; None when it is not sent (over budget) or not kept (401/403)."""
        plan, state = self.plans[pi], self.states[pi]
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
                limiter=state.limiter,
                send=self.send if state.replicas is None else state.replicas.route(self.send),
            )
        except BaseException:
            self.budget.settle(plan.name, None)
            raise
        self.budget.settle(plan.name, completion.cost_usd)
        if _rejected_credentials(completion):
            env = plan.config.api_key_env or key_var(plan.config.model)
            assert completion.error is not None
            reason = f"HTTP {completion.error.status}: the provider rejected the credentials; check {env}"
            if state.stop(reason):
                self.echo(f"stopping {plan.name}: {reason}")
            return None  # not written: a resume with a fixed key sends it
        return Landing(pi, sample, epoch, completion, key)


def _rejected_credentials(completion: Completion) -> bool:
    return completion.error is not None and completion.error.kind == ErrorKind.AUTH
