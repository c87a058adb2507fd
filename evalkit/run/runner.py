"""One run (new or resumed), from the loaded suite to the report, in four phases:

1. **preflight** — refuse a resume whose suite or data changed, load and check the recorded
   baselines, render every sample and sort the pending cells into cache hits and cells to send
   (:mod:`evalkit.run.work`), check that every self-hosted endpoint accepts connections. Nothing is
   written and nothing is sent before this has passed;
2. **open** — the run folder and its manifest (:mod:`evalkit.rundir.manifest`);
3. **send** — land the recorded answers and the cache hits, then send the rest (the network,
   :mod:`evalkit.run.live`, and the providers' batch APIs, :mod:`evalkit.run.batch`), every answer
   through the one recorder (:mod:`evalkit.run.recorder`);
4. **finish** — the manifest's outcome, the report, and an exit code.

``--resume`` skips every cell already in the ledger, so an interrupted run never pays twice.
"""

from __future__ import annotations

import asyncio
import platform
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.config.dataset import Dataset, load_dataset
from evalkit.config.load import LoadedSuite, load_suite
from evalkit.config.prompt import Renderer
from evalkit.errors import ExitCode, InfrastructureError, RunDirError
from evalkit.providers.doctor import check_endpoints
from evalkit.providers.litellm import litellm_module, litellm_price_info, litellm_version
from evalkit.providers.local import ensure_local_model, stop_local_models
from evalkit.providers.pool import WorkerPool, cpu_cores, pool_size
from evalkit.report.process import ReportProcess
from evalkit.run.batch import BatchRun, poll_interval, uses_batch
from evalkit.run.budget import Budget
from evalkit.run.cache import ResponseCache
from evalkit.run.cached import write_cache_hits
from evalkit.run.live import LiveSender
from evalkit.run.plan import ModelPlan, RunOptions, plan_models
from evalkit.run.progress import RunProgress
from evalkit.run.recorded import Replay, load_replays, write_recorded
from evalkit.run.recorder import Recorder
from evalkit.run.state import ModelState, model_entry
from evalkit.run.work import Work, scan, set_aside_recorded
from evalkit.rundir.ledger import Cell, LedgerWriter, done_cells, iter_results
from evalkit.rundir.manifest import (
    DatasetRecord,
    Manifest,
    ScorerEntry,
    SuiteRecord,
    new_run_id,
    now_iso,
    read_manifest,
    write_manifest,
)
from evalkit.rundir.shard import Shard
from evalkit.scorers.registry import ScoreFn, build_scorer
from evalkit.types import Sample

__all__ = ["RunOptions", "RunOutcome", "Runner", "resume"]

Echo = Callable[[str], None]


@dataclass
class RunOutcome:
    """How a run ended: its folder, the exit code and the one line that says why."""

    run_dir: Path
    exit_code: ExitCode
    message: str
    planned: int = 0
    done: int = 0
    errors: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Prepared:
    """What the preflight found: the cells already done, the pending work, the cache to use."""

    done: set[Cell]
    work: Work
    cache: ResponseCache | None
    recorded_todo: dict[int, list[bytearray]]
    """Runnable index -> the replayed model's cells to answer from its recording."""


class Runner:
    """Plans and executes one run (new or resumed)."""

    def __init__(self, loaded: LoadedSuite, options: RunOptions, *, echo: Echo = print) -> None:
        self.loaded = loaded
        self.suite = loaded.suite
        self.options = options
        self.echo = echo
        self._reporter: ReportProcess | None = None
        """The forked report writer of a run with worker processes (:mod:`evalkit.report.process`)."""
        self.dataset: Dataset = load_dataset(loaded.dataset_path, self.suite.dataset)
        self.samples: list[Sample] = (
            self.dataset.samples[: options.limit] if options.limit else self.dataset.samples
        )
        self.renderer = Renderer(
            self.suite.prompt,
            file_vars=loaded.file_vars,
            hidden=self.suite.dataset.hidden,
            where=str(loaded.path),
        )
        self.scorers: dict[str, ScoreFn] = {
            sc.key: build_scorer(
                sc.name, sc.args, base_dir=loaded.base_dir, where=f"{loaded.path}: scorers.{i}"
            )
            for i, sc in enumerate(self.suite.scorers)
        }
        self.plans: list[ModelPlan] = plan_models(self.suite, options.models, loaded.path)
        self.states = [ModelState.for_plan(p) for p in self.plans]
        self.replays: dict[int, Replay] = {}
        """Plan index -> a replayed model's recorded answers (loaded in the preflight)."""
        self.n_owned = (  # the samples this run sends: all of them, or its shard's
            options.shard.count_in(s.id for s in self.samples) if options.shard else len(self.samples)
        )
        self.budget = Budget(options.max_cost_usd or self.suite.max_cost_usd)
        self.execution: dict[str, Any] = {"workers": 0}
        """How the run was executed (worker processes, seconds per phase), for run.json and the benchmark."""
        self._resuming = False

    @property
    def runnable(self) -> list[int]:
        """Indexes of the models that run (not skipped for a missing key)."""
        return [i for i, s in enumerate(self.states) if s.status != "skipped"]

    @property
    def planned(self) -> int:
        return self.n_owned * self.suite.epochs * len(self.runnable)

    def execute(self, resume_dir: Path | None = None) -> RunOutcome:
        """Run (or continue) the suite and write its report. Nothing is sent before every sample rendered."""
        self._resuming = resume_dir is not None
        try:
            prep = self._preflight(resume_dir)
            run_dir, manifest = self._open(resume_dir)
            if not self.runnable:
                return self._nothing_ran(run_dir, manifest)
            status = self._send(run_dir, manifest, prep)
            return self._finish(run_dir, manifest, status)
        finally:
            self._cancel_reporter()  # a report process not given a report (interrupted, an error) leaves

    # --- 1. preflight -------------------------------------------------------------------------

    def _preflight(self, resume_dir: Path | None) -> _Prepared:
        """Every check that can fail before anything is written or sent."""
        resumed = read_manifest(resume_dir) if resume_dir is not None else None
        done = (
            self._check_resume(resume_dir, resumed)
            if resume_dir is not None and resumed is not None
            else set()
        )
        self._load_recorded(resumed)
        runnable = [self.plans[i] for i in self.runnable]
        cache = ResponseCache.default() if self.options.use_cache and runnable else None
        try:
            t0 = time.perf_counter()
            work = scan(
                self.samples, self.renderer, runnable, self.suite.epochs, done, cache, self.options.shard
            )
            self.execution["seconds"] = {"scan": round(time.perf_counter() - t0, 3)}
            replayed = {k for k, p in enumerate(runnable) if p.replay_path is not None}
            recorded_todo = set_aside_recorded(work, replayed)  # replayed models send nothing
            self._check_endpoints([p for k, p in enumerate(runnable) if work.send_count(k)])
        except BaseException:
            if cache is not None:
                cache.close()
            raise
        return _Prepared(done, work, cache, recorded_todo)

    def _check_resume(self, resume_dir: Path, manifest: Manifest) -> set[Cell]:
        """Refuse a resume whose suite, data or shard changed; the cells already in the ledger."""
        if manifest.suite.hash != self.loaded.suite_hash:
            raise RunDirError(
                f"{resume_dir}: the suite changed since this run started "
                f"({self.loaded.path}); start a new run instead of resuming"
            )
        if manifest.dataset.sha256 != self.dataset.sha256:
            raise RunDirError(
                f"{resume_dir}: the dataset {self.dataset.path} changed since this run started; "
                "start a new run instead of resuming"
            )
        recorded = manifest.shard
        if recorded != self.options.shard:
            raise RunDirError(
                f"{resume_dir}: this run is {f'shard {recorded}' if recorded else 'not sharded'}; it cannot "
                f"be resumed as {f'shard {self.options.shard}' if self.options.shard else 'an unsharded run'}"
            )
        warnings: list[str] = []
        done = done_cells(resume_dir, warnings)
        for w in warnings:
            self.echo(f"warning: {w} (that cell will be sent again)")
        return done

    def _load_recorded(self, resumed: Manifest | None) -> None:
        """Load the replayed models' answers (:mod:`evalkit.run.recorded`); ConfigError when not comparable."""
        sources = {
            i: (p.name, p.replay_path, p.config.replay_model or p.name)
            for i, p in enumerate(self.plans)
            if p.replay_path is not None
        }
        self.replays = load_replays(
            sources,
            samples=self.samples,
            all_samples=self.dataset.samples,
            epochs=self.suite.epochs,
            dataset_sha256=self.dataset.sha256,
            task_hash=self.loaded.task_hash,
            suite_path=self.loaded.path,
            resumed=resumed,
        )

    def _check_endpoints(self, sending: list[ModelPlan]) -> None:
        """Stop (exit 3) before the first request when a self-hosted server does not accept connections
        (a model served wholly from the cache needs no server)."""
        failed, degraded = check_endpoints([p.config for p in sending])
        for c in degraded:  # some replicas down: the others take the requests
            self.echo(f"warning: {c.model}: {c.detail}")
        if failed:
            names = "; ".join(f"{c.model}: {c.detail}" for c in failed)
            raise InfrastructureError(f"{names} — start the server or fix api_base (nothing was sent)")

    # --- 2. open ------------------------------------------------------------------------------

    def _open(self, resume_dir: Path | None) -> tuple[Path, Manifest]:
        """The run folder and its manifest (``running``), written before the first request."""
        if resume_dir is not None:
            manifest = read_manifest(resume_dir)
            manifest.update(status="running", resumed_at=now_iso())
            run_dir = resume_dir
        else:
            run_dir = self.options.output_dir / self.suite.name / new_run_id()
            run_dir.mkdir(parents=True, exist_ok=False)
            manifest = self._new_manifest(run_dir.name)
        write_manifest(run_dir, manifest)
        for p, s in zip(self.plans, self.states, strict=True):
            if s.status == "skipped":
                self.echo(f"skipping {p.name} ({p.config.model}): {s.reason}")
        return run_dir, manifest

    def _new_manifest(self, run_id: str) -> Manifest:
        suite, data = self.suite, self.dataset
        return Manifest.new(
            run_id=run_id,
            suite=SuiteRecord(
                suite.name,
                suite.version,
                str(self.loaded.path),
                self.loaded.suite_hash,
                self.loaded.task_hash,
            ),
            suite_config=suite.model_dump(mode="json"),
            dataset=DatasetRecord(str(data.path), data.sha256, len(data), len(self.samples), data.format),
            options={"models": self.options.models, "limit": self.options.limit, "batch": self.options.batch},
            shard=self.options.shard,
            epochs=suite.epochs,
            models=self._model_entries(),
            scorers=[ScorerEntry(s.key, s.name, s.args) for s in suite.scorers],
            gate=suite.gate.model_dump(mode="json") | {"scorer": suite.gate_scorer},
            versions={
                "evalkit": __version__,
                "litellm": litellm_version(),
                "python": platform.python_version(),
            },
        )

    def _model_entries(self) -> list[dict[str, Any]]:
        return [
            model_entry(p, s, self.replays[i].manifest() if i in self.replays else None)
            for i, (p, s) in enumerate(zip(self.plans, self.states, strict=True))
        ]

    def _nothing_ran(self, run_dir: Path, manifest: Manifest) -> RunOutcome:
        manifest.update(status="failed", finished_at=now_iso(), models=self._model_entries())
        write_manifest(run_dir, manifest)
        self._write_report(run_dir)
        return RunOutcome(
            run_dir,
            ExitCode.INFRASTRUCTURE,
            "no model could run: every model was skipped (see the lines above)",
        )

    # --- 3. send ------------------------------------------------------------------------------

    def _send(self, run_dir: Path, manifest: Manifest, prep: _Prepared) -> str:
        """Land everything pending; ``finished`` or ``interrupted`` (Ctrl+C, SIGTERM)."""
        active = self.runnable
        to_send = [prep.work.send_count(k) for k in range(len(active))]
        self._announce(run_dir, prep, to_send)
        pool: WorkerPool | None = None
        ledger: LedgerWriter | None = None
        try:
            if any(to_send):
                t0 = time.perf_counter()
                pool = self._start_pool([self.plans[i] for i in active], to_send)
                self.execution["seconds"]["start"] = round(time.perf_counter() - t0, 3)
                self._start_local_servers([i for i, n in zip(active, to_send, strict=True) if n])
            ledger = LedgerWriter(run_dir / "samples.jsonl", batch=True)
            return self._land(prep, ledger, pool)
        except InfrastructureError:
            manifest.update(status="failed", finished_at=now_iso())
            write_manifest(run_dir, manifest)
            raise
        finally:
            self._close(ledger, pool, prep.cache)

    def _announce(self, run_dir: Path, prep: _Prepared, to_send: list[int]) -> None:
        active = {self.plans[i].name for i in self.runnable}
        remaining = self.planned - sum(1 for c in prep.done if c[1] in active)
        if self._resuming and self.budget.cap_usd is not None:  # what the run it continues spent
            self.budget.spent_usd = sum(
                r.completion.cost_usd or 0.0 for r in iter_results(run_dir) if not r.completion.cached
            )
        if self.budget.cap_usd is not None:
            for i in self.runnable:
                p = self.plans[i]
                if p.pricing is None and not p.is_local and p.replay_path is None:
                    self.echo(f"note: max_cost_usd counts {p.name} only where LiteLLM knows its price")
        shard = self.options.shard
        self.echo(
            f"run {run_dir}: {len(active)} model(s) x {len(self.samples)} samples x {self.suite.epochs} epoch(s)"
            + (f", shard {shard}: {self.n_owned} of the samples" if shard else "")
            + f"; {remaining} to go, {sum(to_send)} of them not in the cache"
        )

    def _land(self, prep: _Prepared, ledger: LedgerWriter, pool: WorkerPool | None) -> str:
        """Recorded answers and cache hits, then the batch APIs and the network, through one recorder."""
        active = self.runnable
        plans, states = [self.plans[i] for i in active], [self.states[i] for i in active]
        progress = RunProgress(
            [(p.name, self.n_owned * self.suite.epochs) for p in plans],
            enabled=self.options.progress,
            echo=self.echo,
        )
        for p, s in zip(plans, states, strict=True):
            s.done = sum(1 for c in prep.done if c[1] == p.name)
            progress.advance(p.name, s.done, errors=0, cost=None, initial=True)
        recorder = Recorder(
            plans=plans,
            states=states,
            scorers=self.scorers,
            cache=prep.cache,
            ledger=ledger,
            progress=progress,
            budget=self.budget,
        )
        replays = {k: self.replays[i] for k, i in enumerate(active) if i in self.replays}
        sender = LiveSender(
            plans=plans,
            states=states,
            samples=self.samples,
            renderer=self.renderer,
            recorder=recorder,
            budget=self.budget,
            echo=self.echo,
            send=pool.send if pool is not None else None,
        )
        timings = self.execution.setdefault("seconds", {})
        try:
            with _sigterm_interrupts(), progress:
                t0 = time.perf_counter()
                asyncio.run(self._land_offline(recorder, replays, prep))
                timings["replay"] = round(time.perf_counter() - t0, 3)
                batches = self._batches(plans, states, prep.work, recorder, ledger.path.parent)
                if batches is not None:
                    batches.submit()
                if any(prep.work.send_count(k) for k in range(len(plans))):
                    t0, c0 = time.perf_counter(), time.process_time()
                    asyncio.run(self._land_live(sender, prep.work, pool))
                    timings["send"] = round(time.perf_counter() - t0, 3)
                    self.execution["send_cpu_s"] = round(time.process_time() - c0, 3)
                if batches is not None:
                    batches.finish()  # poll until every batch has ended, writing what lands
        except KeyboardInterrupt:
            return "interrupted"
        return "finished"

    async def _land_offline(self, recorder: Recorder, replays: dict[int, Replay], prep: _Prepared) -> None:
        """The recorded baselines' answers, then every cache hit: no network, no event-loop turns to wait."""
        await write_recorded(recorder, replays, prep.recorded_todo, self.samples)
        if prep.cache is not None:
            await write_cache_hits(prep.work, prep.cache, recorder, self.samples)
        recorder.flush()

    @staticmethod
    async def _land_live(sender: LiveSender, work: Work, pool: WorkerPool | None) -> None:
        if pool is None:
            return await sender.send_all(work)
        await pool.open()
        try:
            await sender.send_all(work)
        finally:
            pool.detach()

    def _batches(
        self, plans: list[ModelPlan], states: list[ModelState], work: Work, recorder: Recorder, run_dir: Path
    ) -> BatchRun | None:
        """The models that go through their provider's batch API, their cells taken off the live work;
        None when no model does."""
        chosen = [(k, p) for k, p in enumerate(plans) if uses_batch(p, self.options.batch)]
        if not chosen:
            return None
        batches = BatchRun(
            run_dir=run_dir,
            plans=chosen,
            states=states,
            samples=self.samples,
            renderer=self.renderer,
            recorder=recorder,
            echo=self.echo,
            poll_s=poll_interval(self.options.batch_poll_s),
        )
        batches.take(work)
        return batches

    def _start_pool(self, runnable: list[ModelPlan], to_send: list[int]) -> WorkerPool | None:
        """Import LiteLLM before the clock of the fan-out starts; fork workers if one core cannot keep up."""
        in_flight = sum(p.concurrency for p, n in zip(runnable, to_send, strict=True) if n)
        n = pool_size(self.options.workers, cores=cpu_cores(), in_flight=in_flight, to_send=sum(to_send))
        if n == 0:
            litellm_module()
            return None
        self.execution["workers"] = n
        # Forked first: it imports the report writer on the core LiteLLM's import leaves idle.
        self._reporter = ReportProcess.start()
        return WorkerPool(n).start()

    def _start_local_servers(self, indexes: list[int]) -> None:
        """Start the embedded models that send; their plans then call the server that came up."""
        for i in indexes:
            plan = self.plans[i]
            if not plan.is_local:
                continue
            alias = plan.config.model.split("/", 1)[1]
            self.echo(f"starting the embedded model {alias} (llama.cpp, CPU)...")
            endpoint = ensure_local_model(alias)
            self.plans[i] = plan.with_endpoint(endpoint.litellm_model, endpoint.api_base, endpoint.api_key)

    def _close(
        self, ledger: LedgerWriter | None, pool: WorkerPool | None, cache: ResponseCache | None
    ) -> None:
        if ledger is not None:
            ledger.close()
        if pool is not None:
            pool.close()
            self.execution["worker_cpu_s"] = [round(c, 3) for c in pool.cpu_s]
        if cache is not None:
            if cache.corrupt:
                self.echo(f"warning: {cache.corrupt} corrupt cache entr(y/ies) in {cache.path} were dropped")
            cache.close()
        stop_local_models()

    # --- 4. finish ----------------------------------------------------------------------------

    def _finish(self, run_dir: Path, manifest: Manifest, status: str) -> RunOutcome:
        """Record how the run went, write the report, and say what it means."""
        shard = self.options.shard
        if status == "finished" and self.budget.exhausted:
            status = "budget_exhausted"
        self._record_map_prices()
        if status == "finished" and shard is not None and shard.count > 1:
            status = "partial"  # this shard's cells are done; the suite's are not until `evalkit merge`
        counts = self._counts()
        manifest.update(
            status=status,
            finished_at=now_iso(),
            models=self._model_entries(),
            counts=counts,
            budget=self.budget.manifest(),
            execution=self.execution,
        )
        write_manifest(run_dir, manifest)
        if status == "interrupted":
            msg = f"interrupted: what finished is saved. Resume with: evalkit run --resume {run_dir}"
            return RunOutcome(run_dir, ExitCode.INTERRUPTED, msg, warnings=self.dataset.warnings, **counts)
        self._write_report(run_dir)
        outcome = self._outcome(run_dir, counts)
        if status == "partial":
            outcome.message = (
                f"shard {shard} finished ({self.n_owned} of {len(self.samples)} samples; its report is partial). "
                f"{outcome.message}. Combine the shards with: evalkit merge RUN_DIR..."
            )
        return outcome

    def _record_map_prices(self) -> None:
        """Record LiteLLM's price for each API model the suite does not price, in run.json: the report
        (and every re-report) then costs the run as of the run, without importing LiteLLM again."""
        for p, s in zip(self.plans, self.states, strict=True):
            c = p.config
            if p.is_local or c.price is not None or c.self_hosted is not None:
                continue
            found = litellm_price_info(c.model)
            s.price_map = asdict(found) if found is not None else None
            s.price_map_looked_up = True

    def _counts(self) -> dict[str, int]:
        return {
            "planned": self.planned,
            "done": sum(s.done for s in self.states),
            "errors": sum(s.errors for s in self.states),
            "cached": sum(s.cached for s in self.states),
        }

    def _outcome(self, run_dir: Path, counts: dict[str, int]) -> RunOutcome:
        warnings = self.dataset.warnings
        if self.budget.exhausted:
            return RunOutcome(
                run_dir,
                ExitCode.INFRASTRUCTURE,
                f"budget reached: ${self.budget.spent_usd:.4f} of ${self.budget.cap_usd:.4f} spent, "
                f"{counts['planned'] - counts['done']} request(s) not sent; report written. Continue with: "
                f"evalkit run --resume {run_dir} --max-cost <higher cap>",
                warnings=warnings,
                **counts,
            )
        failed = [
            (p, s)
            for p, s in zip(self.plans, self.states, strict=True)
            if s.ok and s.done and s.errors == s.done
        ]
        stopped = [(p, s) for p, s in zip(self.plans, self.states, strict=True) if s.status == "stopped"]
        if failed or stopped:
            names = ", ".join(
                f"{p.name} ({s.reason or 'every request failed'})" for p, s in [*failed, *stopped]
            )
            msg = f"report written, but models failed: {names}"
            return RunOutcome(run_dir, ExitCode.INFRASTRUCTURE, msg, warnings=warnings, **counts)
        return RunOutcome(
            run_dir, ExitCode.OK, f"report: {run_dir / 'report.html'}", warnings=warnings, **counts
        )

    def _write_report(self, run_dir: Path) -> None:
        """In the report process when there is one (it already loaded the writer); in this process
        when there is none, or when it failed (so a failure raises here, as it would have)."""
        reporter, self._reporter = self._reporter, None
        if reporter is not None and reporter.write(run_dir):
            return
        from evalkit.report import write_report

        write_report(run_dir)

    def _cancel_reporter(self) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
            self._reporter = None


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


def resume(
    run_dir: Path,
    *,
    output_dir: Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
    max_cost_usd: float | None = None,
    echo: Echo = print,
    shard: Shard | None = None,
    batch_poll_s: float | None = None,
) -> RunOutcome:
    """Continue an interrupted run with the options it was started with (``shard``, when given, must be
    the one the run was started with)."""
    manifest = read_manifest(run_dir)
    recorded = manifest.shard
    if shard is not None and shard != recorded:
        raise RunDirError(
            f"{run_dir}: this run is {f'shard {recorded}' if recorded else 'not sharded'}; "
            f"--shard {shard} cannot resume it (leave --shard out to continue it as it started)"
        )
    loaded = load_suite(Path(manifest.suite.path or ""))
    opts = manifest.options
    runner = Runner(
        loaded,
        RunOptions(
            models=opts.get("models"),
            limit=manifest.limit,
            output_dir=output_dir or run_dir.parent.parent,
            use_cache=use_cache,
            progress=progress,
            max_cost_usd=max_cost_usd,
            shard=recorded,
            batch=bool(opts.get("batch")),
            batch_poll_s=batch_poll_s,
        ),
        echo=echo,
    )
    return runner.execute(resume_dir=run_dir)
