"""The one place a result lands: score → cache → ledger → counters → progress.

Every answer of a run arrives here, whatever brought it: the network (``live``), the response
cache (``cached``), a recorded baseline (``recorded``) or a provider's batch API (``batch``).
:meth:`Recorder.record_many` does the same thing for each of them, in this order:

1. a fresh answer (``live``, ``batch``) goes into the response cache first, so a kill after this
   point never pays for it again (only successful answers are cached);
2. every scorer reads it (a scorer may be ``async``: those of one batch of landings run
   concurrently; a scorer that raises gives a ``scorer_error`` verdict, never a lost answer);
3. the :class:`~evalkit.types.Result` is appended to the ledger (buffered: :meth:`flush` writes, and
   :meth:`flush_soon` schedules a flush at the end of the event loop's turn, so results that land
   together share one write and none waits for the next one);
4. the model's counters (:class:`~evalkit.run.state.ModelState`) and, for a batch answer, the
   budget's spend are updated; the progress display follows at each flush.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from evalkit.run.budget import Budget
from evalkit.run.cache import ResponseCache
from evalkit.run.plan import ModelPlan
from evalkit.run.progress import RunProgress
from evalkit.run.state import ModelState
from evalkit.rundir.ledger import LedgerWriter
from evalkit.scorers._async import AnyScoreFn
from evalkit.types import Completion, Result, Sample, Score

__all__ = ["RECORD_CHUNK", "Landing", "Recorder", "Source"]

Source = Literal["live", "cached", "recorded", "batch"]
"""Where an answer came from."""

RECORD_CHUNK = 500
"""Landings recorded per call when many arrive at once (cache hits, recordings, batch results)."""


@dataclass(frozen=True, slots=True)
class Landing:
    """One answer arriving for one cell: the model (its plan index), the sample, the epoch, the answer
    (or its error) and the request key it is filed under."""

    plan_index: int
    sample: Sample
    epoch: int
    completion: Completion
    key: str


class Recorder:
    """Lands results for the run's models (``plans[i]`` with ``states[i]``); see the module docstring."""

    def __init__(
        self,
        *,
        plans: Sequence[ModelPlan],
        states: Sequence[ModelState],
        scorers: Mapping[str, AnyScoreFn],
        cache: ResponseCache | None,
        ledger: LedgerWriter,
        progress: RunProgress,
        budget: Budget,
        reads: dict[str, str] | None = None,
    ) -> None:
        self.plans = plans
        self.states = states
        self.scorers = scorers
        self.reads = reads or {}
        """Scorer key -> ``completion`` for the scorers that read the whole completion (tool calls)."""
        self.cache = cache
        self.ledger = ledger
        self.progress = progress
        self.budget = budget
        self._pending: dict[int, list[float | int | None]] = {}
        """Plan index -> [cells, errors, known cost or None] not yet shown by the progress display."""
        self._flush_scheduled = False

    async def record(self, landing: Landing, *, source: Source, batch_id: str | None = None) -> Result:
        """Land one answer (see the module docstring); returns the ledger's result."""
        (result,) = await self.record_many([landing], source=source, batch_id=batch_id)
        return result

    async def record_many(
        self, landings: Sequence[Landing], *, source: Source, batch_id: str | None = None
    ) -> list[Result]:
        """Land several answers: cached first, scored together, then written in order."""
        if source in ("live", "batch") and self.cache is not None:
            for x in landings:
                if x.completion.ok:
                    self.cache.put(x.key, x.completion)  # in the cache before it is in the ledger
        if len(landings) == 1:
            scored = [await self._score(landings[0])]
        else:
            scored = list(await asyncio.gather(*(self._score(x) for x in landings)))
        results = []
        for x, scores in zip(landings, scored, strict=True):
            completion = x.completion
            if source == "batch":
                completion = replace(completion, via="batch", batch_id=batch_id)
            result = Result(
                sample_id=x.sample.id,
                model=self.plans[x.plan_index].name,
                epoch=x.epoch,
                completion=completion,
                scores=scores,
                request_key=x.key,
                input=x.sample.input,
                expected=x.sample.expected,
                tags=x.sample.tags,
                at=time.time(),
            )
            self.ledger.append(result)
            self._count(x.plan_index, completion, source)
            results.append(result)
        if len(landings) > 1:
            self.flush()
        return results

    def _count(self, pi: int, completion: Completion, source: Source) -> None:
        state = self.states[pi]
        failed = not completion.ok
        state.done += 1
        state.errors += failed
        if source == "cached":
            state.cached += 1
        elif source == "recorded":
            state.replayed += 1
        cost: float | None = completion.cost_usd if source in ("live", "batch") else 0.0
        if source == "batch" and completion.cost_usd is not None:
            self.budget.charge(completion.cost_usd)
        pending = self._pending.setdefault(pi, [0, 0, None])
        pending[0] = int(pending[0] or 0) + 1
        pending[1] = int(pending[1] or 0) + failed
        if cost is not None:
            pending[2] = float(pending[2] or 0.0) + cost

    async def _score(self, landing: Landing) -> dict[str, Score]:
        completion = landing.completion
        if not completion.ok:
            return {}
        text = completion.text or ""
        out: dict[str, Score] = {}
        for key, fn in self.scorers.items():
            arg: object = completion if self.reads.get(key) == "completion" else text
            try:
                verdict = fn(arg, landing.sample)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                out[key] = verdict
            except Exception as exc:  # a scorer bug must not lose the completion
                out[key] = Score(
                    0.0, None, f"scorer raised {type(exc).__name__}: {exc}", label="scorer_error"
                )
        return out

    def flush(self) -> None:
        """Write every buffered line, and show what landed since the last flush."""
        self._flush_scheduled = False
        self.ledger.flush()
        pending, self._pending = self._pending, {}
        for pi, (n, errors, cost) in pending.items():
            self.progress.advance(self.plans[pi].name, int(n or 0), errors=int(errors or 0), cost=cost)

    def flush_soon(self) -> None:
        """Flush at the end of this event-loop turn (results landing together share one write)."""
        if not self._flush_scheduled and (self.ledger.pending or self._pending):
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)
