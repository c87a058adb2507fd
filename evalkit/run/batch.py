"""Sending a model's cells through its provider's batch API: submit, poll, download, write.

:class:`BatchRun` is wired into the runner after the cache replay. :meth:`BatchRun.take` removes
the batch models' cells from the live work (cache hits were replayed already: they are never
submitted); :meth:`BatchRun.submit` records each job in ``batches.json`` and then creates it at
the provider (split to the provider's limits); :meth:`BatchRun.finish` polls with back-off until
every job has ended, then turns each line into a :class:`~evalkit.types.Completion`, scores it and
writes it to the ledger through :class:`~evalkit.run.live.FanOut`'s own result helper (the ledger
line's completion carries ``"via": "batch"`` and the provider's batch id), and puts successful
answers in the response cache, as the live path does.

Lines that expired or failed in a way the live path would retry (408, 429, 5xx) are resubmitted
once in a new job (attempt 2), then recorded as errors. A resumed run reads ``batches.json``:
jobs already submitted are polled, never submitted again; cells already in the ledger are skipped.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from evalkit.config.catalog import BATCH_PROVIDERS, key_var
from evalkit.config.prompt import Renderer
from evalkit.economics import ApiPrice
from evalkit.errors import ConfigError, InfrastructureError
from evalkit.providers.batch.anthropic_batch import AnthropicBatches
from evalkit.providers.batch.bodies import batch_request_body
from evalkit.providers.batch.openai_batch import OpenAIBatches
from evalkit.providers.batch.results import error_result
from evalkit.providers.batch.split import limits_for, split
from evalkit.providers.batch.types import BatchLine, LineResult, Poll
from evalkit.providers.litellm import classify
from evalkit.providers.pricing import batch_price
from evalkit.providers.retry import is_retryable
from evalkit.run.cache import request_key
from evalkit.run.plan import ModelPlan
from evalkit.run.recorder import RECORD_CHUNK, Landing, Recorder
from evalkit.run.state import ModelState
from evalkit.run.work import Work
from evalkit.rundir.batches import BatchJob, BatchState
from evalkit.rundir.ledger import done_cells
from evalkit.types import ErrorKind, Request, Sample

__all__ = ["DEFAULT_POLL_S", "BatchClient", "BatchRun", "poll_interval", "uses_batch"]

DEFAULT_POLL_S = 30.0
MAX_POLL_FACTOR = 10.0
"""Polling backs off from the interval to ten times it (30 s -> 5 min by default)."""
SUBMIT_ATTEMPTS = 3
MAX_POLL_FAILURES = 20
"""Consecutive failed polls of one job before the run stops (resumable: the job stays on disk)."""

Echo = Callable[[str], None]


class BatchClient(Protocol):
    provider: str
    overhead: int

    @staticmethod
    def wire(custom_id: str, body: dict[str, Any]) -> bytes: ...

    def submit(self, job: str, lines: list[BatchLine], on_file: Callable[[str], None]) -> str: ...

    def poll(self, batch_id: str) -> Poll: ...

    def results(self, batch_id: str, pricing: ApiPrice | None) -> Iterable[LineResult]: ...


def uses_batch(plan: ModelPlan, flag: bool) -> bool:
    """Whether ``plan``'s cells go by batch: ``batch: true`` on the model, or ``--batch`` for a closed
    openai/ or anthropic/ model (open models, embedded and replayed ones stay live)."""
    if plan.config.batch:
        return True
    provider = plan.config.model.partition("/")[0]
    return (
        flag
        and plan.group == "closed"
        and provider in BATCH_PROVIDERS
        and not plan.is_local
        and getattr(plan.config, "replay", None) is None
    )


def poll_interval(value: float | None) -> float:
    """``--poll-interval``, else ``$EVALKIT_BATCH_POLL_S``, else 30 s."""
    if value is None:
        raw = os.environ.get("EVALKIT_BATCH_POLL_S")
        if not raw:
            return DEFAULT_POLL_S
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"$EVALKIT_BATCH_POLL_S: expected seconds, got '{raw}'") from None
    if not value > 0:
        raise ConfigError(f"--poll-interval: must be more than 0 seconds, got {value}")
    return value


def _make_client(plan: ModelPlan) -> BatchClient:
    provider = plan.config.model.partition("/")[0]
    cls: type[OpenAIBatches] | type[AnthropicBatches] = (
        OpenAIBatches if provider == "openai" else AnthropicBatches
    )
    return cls(api_key=plan.api_key, api_base=plan.call_base, timeout_s=plan.policy.timeout_s)


class BatchRun:
    """The batch side of one run: the batch models' cells, their jobs, their results."""

    def __init__(
        self,
        *,
        run_dir: Path,
        plans: list[tuple[int, ModelPlan]],
        states: Sequence[ModelState],
        samples: list[Sample],
        renderer: Renderer,
        recorder: Recorder,
        echo: Echo,
        poll_s: float,
        client_factory: Callable[[ModelPlan], BatchClient] = _make_client,
    ) -> None:
        self.run_dir = run_dir
        self.plans = plans
        self.by_name = {p.name: p for _, p in plans}
        self.index = {p.name: pi for pi, p in plans}
        self.states = {p.name: states[pi] for pi, p in plans}
        self.samples = samples
        self.renderer = renderer
        self.recorder = recorder
        self.echo = echo
        self.poll_s = poll_s
        self.state = BatchState.load(run_dir)
        self._factory = client_factory
        self._clients: dict[str, BatchClient] = {}
        self.pricing = {p.name: self._price(p) for _, p in plans}
        self.fresh: dict[str, list[tuple[int, int]]] = {}
        self._done: set[tuple[str, str, int]] | None = None
        self._noted: set[str] = set()

    def _client(self, plan: ModelPlan) -> BatchClient:
        """The model's SDK client, made when first needed (a run served from the cache imports no SDK)."""
        client = self._clients.get(plan.name)
        if client is None:
            client = self._clients[plan.name] = self._factory(plan)
        return client

    @staticmethod
    def _price(plan: ModelPlan) -> ApiPrice | None:
        """The batch price: half a suite ``price``, else LiteLLM's batch price (or half its normal one)."""
        return batch_price(plan.call_model, plan.pricing)

    # --- planning -----------------------------------------------------------------------------

    def take(self, work: Work) -> None:
        """Move the batch models' cells out of the live work; cells already in a job stay with it."""
        for pi, plan in self.plans:
            covered = self.state.covered(plan.name)
            cells = []
            for e, row in enumerate(work.todo[pi]):
                for si in range(len(row)):
                    if row[si]:
                        row[si] = 0
                        if (self.samples[si].id, e) not in covered:
                            cells.append((si, e))
            self.fresh[plan.name] = cells

    def _line(self, plan: ModelPlan, si: int, epoch: int, attempt: int) -> BatchLine:
        sample = self.samples[si]
        messages = self.renderer.render(sample)
        key = request_key(
            Request(
                model=plan.identity_model,
                messages=messages,
                params=plan.params,
                api_base=plan.identity_base,
                epoch=epoch,
            )
        )
        body, dropped = batch_request_body(plan.call_model, messages, plan.params)
        if dropped and plan.name not in self._noted:
            self._noted.add(plan.name)
            self.echo(
                f"note: {plan.name}'s batch requests leave out {', '.join(dropped)} (the provider rejects it)"
            )
        cid = f"s{si}-e{epoch}-a{attempt}"
        client = self._client(plan)
        return BatchLine(cid, si, sample.id, epoch, key, body, size=len(client.wire(cid, body)))

    # --- submitting ---------------------------------------------------------------------------

    def submit(self) -> None:
        """Submit every fresh cell (split to the provider's limits) and every job left ``submitting``."""
        for _, plan in self.plans:
            for job in [j for j in self.state.pending(plan.name) if j.status == "submitting"]:
                done = self._done_cells()  # e.g. replayed from the cache meanwhile: not paid again
                lines = [
                    self._line(plan, int(r["sample_index"]), int(r["epoch"]), job.attempt)
                    for r in job.requests.values()
                    if (r["sample_id"], plan.name, int(r["epoch"])) not in done
                ]
                if not lines:
                    job.status = "done"
                    self.state.save()
                    continue
                self.echo(
                    f"batch {plan.name}: {job.job} was not confirmed by the provider; submitting it again"
                )
                self._create(plan, job, lines)
            cells = self.fresh.pop(plan.name, [])
            if cells and self.states[plan.name].ok:
                self._submit_cells(plan, [self._line(plan, si, e, 1) for si, e in cells], attempt=1)

    def _submit_cells(self, plan: ModelPlan, lines: list[BatchLine], attempt: int) -> None:
        client = self._client(plan)
        for chunk in split(lines, limits_for(client.provider), overhead=client.overhead):
            if not self.states[plan.name].ok:
                return
            job = BatchJob(
                job=self.state.next_job_name(plan.name),
                provider=client.provider,
                model=plan.name,
                attempt=attempt,
                requests={
                    x.custom_id: {
                        "sample_id": x.sample_id,
                        "sample_index": x.sample_index,
                        "epoch": x.epoch,
                        "key": x.key,
                    }
                    for x in chunk
                },
            )
            self.state.jobs.append(job)
            self.state.save()  # on disk before the provider hears of it
            self._create(plan, job, chunk)

    def _create(self, plan: ModelPlan, job: BatchJob, lines: list[BatchLine]) -> None:
        client = self._client(plan)

        def on_file(file_id: str) -> None:
            job.input_file_id = file_id
            self.state.save()

        for tries in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                job.batch_id = client.submit(job.job, lines, on_file)
                break
            except Exception as exc:
                error, retry_after = classify(exc)
                if is_retryable(error) and tries < SUBMIT_ATTEMPTS:
                    time.sleep(retry_after if retry_after is not None else min(30.0, 2.0**tries))
                    continue
                if error.kind == ErrorKind.AUTH:
                    self.state.jobs.remove(job)  # nothing was sent: a resume with a fixed key submits it
                    self.state.save()
                    env = plan.config.api_key_env or key_var(plan.config.model)
                    reason = f"HTTP {error.status}: the provider rejected the credentials; check {env}"
                    if self.states[plan.name].stop(reason):
                        self.echo(f"stopping {plan.name}: {reason}")
                    return
                self.echo(f"batch {plan.name}: {job.job} could not be created: {error.message}")
                job.status = "done"  # the requests are recorded as errors: data, like a live 400
                self._write(
                    plan, job, [error_result(x.custom_id, error.status, error.message) for x in lines]
                )
                self.state.save()
                return
        job.status = "submitted"
        job.submitted_at = time.time()
        job.provider_status = "submitted"
        self.state.save()
        self.echo(
            f"batch {plan.name}: {job.job} submitted as {job.batch_id} "
            f"({len(lines)} request(s), attempt {job.attempt})"
        )

    # --- polling ------------------------------------------------------------------------------

    def finish(self) -> None:
        """Poll every submitted job (backing off) until all have ended; write their results."""
        interval = self.poll_s
        failures: dict[str, int] = {}
        while True:
            pending = [
                j
                for j in self.state.jobs
                if j.status == "submitted" and j.model in self.by_name and self.states[j.model].ok
            ]
            if not pending:
                return
            changed = False
            for job in pending:
                plan = self.by_name[job.model]
                assert job.batch_id is not None
                try:
                    poll = self._client(plan).poll(job.batch_id)
                    failures.pop(job.job, None)
                except Exception as exc:
                    self._poll_failed(plan, job, exc, failures)
                    continue
                if poll.status != job.provider_status or poll.counts != job.counts:
                    job.provider_status, job.counts = poll.status, dict(poll.counts)
                    done = sum(v for k, v in poll.counts.items() if k not in ("total", "processing"))
                    self.echo(f"batch {plan.name}: {job.batch_id} {poll.status} ({done}/{len(job.requests)})")
                    self.state.save()
                if poll.ended:
                    try:
                        self._collect(plan, job, poll)
                    except Exception as exc:
                        self._poll_failed(plan, job, exc, failures)
                        continue
                    changed = True
            if changed:
                interval = self.poll_s  # something landed (maybe a resubmission): look again soon
                continue
            time.sleep(interval)
            interval = min(interval * 1.5, self.poll_s * MAX_POLL_FACTOR)

    def _poll_failed(self, plan: ModelPlan, job: BatchJob, exc: Exception, failures: dict[str, int]) -> None:
        error, _ = classify(exc)
        n = failures[job.job] = failures.get(job.job, 0) + 1
        if error.kind == ErrorKind.AUTH or n >= MAX_POLL_FAILURES:
            raise InfrastructureError(
                f"batch {plan.name}: {job.batch_id} cannot be read ({error.message}); it is recorded in "
                f"{self.state.path}: fix the cause and resume with: evalkit run --resume {self.run_dir}"
            )
        self.echo(f"batch {plan.name}: polling {job.batch_id} failed ({error.message}); trying again")

    def _collect(self, plan: ModelPlan, job: BatchJob, poll: Poll) -> None:
        """Write the ended job's results; resubmit once what expired or failed retryably."""
        assert job.batch_id is not None
        got = {r.custom_id: r for r in self._client(plan).results(job.batch_id, self.pricing[plan.name])}
        done = self._done_cells()
        later = {
            (r["sample_id"], int(r["epoch"]))
            for j in self.state.jobs
            if j.model == plan.name and j.attempt > job.attempt
            for r in j.requests.values()
        }
        final: list[LineResult] = []
        again: list[BatchLine] = []
        for cid, req in job.requests.items():
            cell = (req["sample_id"], int(req["epoch"]))
            if (cell[0], plan.name, cell[1]) in done or cell in later:
                continue
            result = got.get(cid)
            if result is None:
                from evalkit.providers.batch.results import expired_result

                result = expired_result(cid, f"no result for this request (batch {poll.status})")
            if result.retryable and job.attempt == 1:
                again.append(self._line(plan, int(req["sample_index"]), cell[1], 2))
            else:
                final.append(result)
        self._write(plan, job, final)
        if again:
            self.echo(f"batch {plan.name}: resubmitting {len(again)} expired or failed request(s) once")
            self._submit_cells(plan, again, attempt=2)
        job.status = "done"
        job.ended_at = time.time()
        self.state.save()

    def _done_cells(self) -> set[tuple[str, str, int]]:
        """Cells in the ledger (read once, after the cache replay; then kept up to date)."""
        if self._done is None:
            self.recorder.flush()
            self._done = done_cells(self.run_dir)
        return self._done

    # --- writing ------------------------------------------------------------------------------

    def _write(self, plan: ModelPlan, job: BatchJob, results: list[LineResult]) -> None:
        """Land the job's results (:mod:`evalkit.run.recorder`, source ``batch``)."""
        done = self._done_cells()
        landings = []
        for r in results:
            req = job.requests[r.custom_id]
            sample, epoch, key = self.samples[int(req["sample_index"])], int(req["epoch"]), str(req["key"])
            completion = replace(r.completion, attempts=job.attempt)
            landings.append(Landing(self.index[plan.name], sample, epoch, completion, key))
            done.add((sample.id, plan.name, epoch))
        for start in range(0, len(landings), RECORD_CHUNK):
            chunk = landings[start : start + RECORD_CHUNK]
            asyncio.run(self.recorder.record_many(chunk, source="batch", batch_id=job.batch_id))
        self.recorder.flush()
