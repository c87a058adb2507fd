"""One run (new or resumed), from the loaded suite to the report: the orchestration.

The stages, each in its own module: :mod:`evalkit.run.plan` (the models as called, and the scan
that renders every sample once and sorts the pending cells into cache hits and cells to send),
:mod:`evalkit.run.live` (replaying the hits, then sending the rest), :mod:`evalkit.providers.pool` (worker
processes for the network when one core cannot keep up). This module prepares the run folder,
wires those together, and turns what happened into the manifest and an exit code.

``--resume`` skips every cell already in the ledger, so an interrupted run never pays twice.
"""

from __future__ import annotations

import asyncio
import json
import platform
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit._util.io import atomic_write_text
from evalkit.run.budget import Budget
from evalkit.run.cache import ResponseCache
from evalkit.config.dataset import Dataset, load_dataset
from evalkit.config.load import LoadedSuite, load_suite
from evalkit.config.prompt import Renderer
from evalkit.errors import ExitCode, InfrastructureError, RunDirError
from evalkit.run.live import FanOut
from evalkit.run.plan import ModelPlan, RunOptions, Work, cpu_cores, plan_models, scan
from evalkit.run.progress import RunProgress
from evalkit.providers.litellm import litellm_module, litellm_version
from evalkit.providers.pool import WorkerPool, pool_size
from evalkit.run.recorded import load_replays, set_aside_replays
from evalkit.report.process import ReportProcess
from evalkit.rundir.ledger import LedgerWriter, done_cells, iter_results, read_manifest
from evalkit.rundir.shard import Shard
from evalkit.scorers.registry import ScoreFn, build_scorer
from evalkit.types import Sample

__all__ = ["RunOptions", "RunOutcome", "Runner", "new_run_id", "resume", "write_manifest"]

Echo = Callable[[str], None]


@dataclass
class RunOutcome:
    run_dir: Path
    exit_code: ExitCode
    message: str
    planned: int = 0
    done: int = 0
    errors: int = 0
    cached: int = 0
    warnings: list[str] = field(default_factory=list)


def new_run_id() -> str:
    """``YYYYMMDD-HHMMSS-`` + milliseconds (3 digits) + 3 random hex digits: ids sort in start order,
    also for runs started within the same second (``ls results/<suite> | tail -1`` is the latest)."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}" + secrets.token_hex(2)[:3]


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Atomically replace run.json (a kill never leaves half a manifest)."""
    atomic_write_text(
        run_dir / "run.json", json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n"
    )


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
        self.plans = plan_models(self.suite, options.models, loaded.path)
        self.n_owned = (  # the samples this run sends: all of them, or its shard's
            options.shard.count_in(s.id for s in self.samples) if options.shard else len(self.samples)
        )
        self.budget = Budget(options.max_cost_usd or self.suite.max_cost_usd)
        self.execution: dict[str, Any] = {"workers": 0}
        """How the run was executed (worker processes, seconds per phase), for run.json and the benchmark."""

    def execute(self, resume_dir: Path | None = None) -> RunOutcome:
        """Run (or continue) the suite and write its report. Nothing is sent before every sample rendered."""
        try:
            return self._execute(resume_dir)
        finally:
            self._cancel_reporter()  # a report process not given a report (interrupted, an error) leaves

    def _execute(self, resume_dir: Path | None) -> RunOutcome:
        from evalkit.providers.doctor import check_endpoints

        done = self._check_resume(resume_dir) if resume_dir is not None else set()
        self._load_replays(resume_dir)  # recorded answers checked before the first request
        runnable = [p for p in self.plans if p.status == "ok"]
        epochs = self.suite.epochs
        cache = ResponseCache.default() if self.options.use_cache and runnable else None
        try:
            t0 = time.perf_counter()
            work = scan(self.samples, self.renderer, runnable, epochs, done, cache, self.options.shard)
            self.execution["seconds"] = {"scan": round(time.perf_counter() - t0, 3)}
            set_aside_replays(work, runnable)  # replayed models send nothing
            sending = [p.config for i, p in enumerate(runnable) if work.send_count(i)]
            # a model served wholly from the cache needs no server
            failed, degraded = check_endpoints(sending)
            for c in degraded:  # some replicas down: the others take the requests
                self.echo(f"warning: {c.model}: {c.detail}")
            if failed:
                names = "; ".join(f"{c.model}: {c.detail}" for c in failed)
                raise InfrastructureError(f"{names} — start the server or fix api_base (nothing was sent)")
        except BaseException:
            if cache is not None:
                cache.close()
            raise
        run_dir, manifest = self._prepare_dir(resume_dir)
        for p in self.plans:
            if p.status == "skipped":
                self.echo(f"skipping {p.name} ({p.config.model}): {p.reason}")
        planned = self.n_owned * epochs * len(runnable)
        if not runnable:
            manifest.update(
                status="failed", finished_at=_now_iso(), models=[p.manifest() for p in self.plans]
            )
            write_manifest(run_dir, manifest)
            self._write_report(run_dir)
            return RunOutcome(
                run_dir,
                ExitCode.INFRASTRUCTURE,
                "no model could run: every model was skipped (see the lines above)",
            )
        remaining = planned - sum(1 for c in done if c[1] in {p.name for p in runnable})
        if resume_dir is not None and self.budget.cap_usd is not None:
            self.budget.spent_usd = sum(
                r.completion.cost_usd or 0.0 for r in iter_results(run_dir) if not r.completion.cached
            )
        if self.budget.cap_usd is not None:
            for p in runnable:
                if p.pricing is None and not p.is_local and p.replay is None:
                    self.echo(f"note: max_cost_usd counts {p.name} only where LiteLLM knows its price")
        to_send = [work.send_count(i) for i in range(len(runnable))]
        shard = self.options.shard
        self.echo(
            f"run {run_dir}: {len(runnable)} model(s) x {len(self.samples)} samples x {epochs} epoch(s)"
            + (f", shard {shard}: {self.n_owned} of the samples" if shard else "")
            + "; "
            f"{remaining} to go, {sum(to_send)} of them not in the cache"
        )
        status = "finished"
        pool: WorkerPool | None = None
        ledger: LedgerWriter | None = None
        try:
            if any(to_send):
                t0 = time.perf_counter()
                pool = self._start_pool(runnable, to_send)
                self.execution["seconds"]["start"] = round(time.perf_counter() - t0, 3)
                self._start_local_servers([p for p, n in zip(runnable, to_send, strict=True) if n])
            ledger = LedgerWriter(run_dir / "samples.jsonl", batch=True)
            status = self._run(runnable, work, done, cache, ledger, pool)
        except InfrastructureError:
            manifest.update(status="failed", finished_at=_now_iso())
            write_manifest(run_dir, manifest)
            raise
        finally:
            if ledger is not None:
                ledger.close()
            if pool is not None:
                pool.close()
                self.execution["worker_cpu_s"] = [round(c, 3) for c in pool.cpu_s]
            if cache is not None:
                if cache.corrupt:
                    self.echo(
                        f"warning: {cache.corrupt} corrupt cache entr(y/ies) in {cache.path} were dropped"
                    )
                cache.close()
            from evalkit.providers.local import stop_local_models

            stop_local_models()
        if status == "finished" and self.budget.exhausted:
            status = "budget_exhausted"
        self._record_map_prices()
        if status == "finished" and shard is not None and shard.count > 1:
            status = "partial"  # this shard's cells are done; the suite's are not until `evalkit merge`
        manifest.update(
            status=status,
            finished_at=_now_iso(),
            models=[p.manifest() for p in self.plans],
            counts=self._counts(planned),
            budget=self.budget.manifest(),
            execution=self.execution,
        )
        write_manifest(run_dir, manifest)
        if status == "interrupted":
            return RunOutcome(
                run_dir,
                ExitCode.INTERRUPTED,
                f"interrupted: what finished is saved. Resume with: evalkit run --resume {run_dir}",
                warnings=self.dataset.warnings,
                **self._counts(planned),
            )
        self._write_report(run_dir)
        outcome = self._outcome(run_dir, planned)
        if status == "partial":
            outcome.message = (
                f"shard {shard} finished ({self.n_owned} of {len(self.samples)} samples; its report is partial). "
                f"{outcome.message}. Combine the shards with: evalkit merge RUN_DIR..."
            )
        return outcome

    def _run(
        self,
        runnable: list[ModelPlan],
        work: Work,
        done: set[tuple[str, str, int]],
        cache: ResponseCache | None,
        ledger: LedgerWriter,
        pool: WorkerPool | None,
    ) -> str:
        """Replay the cache hits, then send the rest; 'finished' or 'interrupted' (Ctrl+C, SIGTERM)."""
        progress = RunProgress(
            [(p.name, self.n_owned * self.suite.epochs) for p in runnable],
            enabled=self.options.progress,
            echo=self.echo,
        )
        for p in runnable:
            already = sum(1 for c in done if c[1] == p.name)
            p.done = already
            progress.advance(p.name, already, errors=0, cost=None, initial=True)
        fan = FanOut(
            plans=runnable,
            samples=self.samples,
            renderer=self.renderer,
            scorers=self.scorers,
            cache=cache,
            ledger=ledger,
            progress=progress,
            budget=self.budget,
            echo=self.echo,
            send=pool.send if pool is not None else None,
        )

        async def send_all() -> None:
            if pool is None:
                return await fan.send_all(work)
            await pool.open()
            try:
                await fan.send_all(work)
            finally:
                pool.detach()

        timings = self.execution.setdefault("seconds", {})
        try:
            with _sigterm_interrupts(), progress:
                t0 = time.perf_counter()
                fan.replay(work)
                timings["replay"] = round(time.perf_counter() - t0, 3)
                batches = self._batches(runnable, work, fan, cache, ledger, progress)  # evalkit.batch
                if batches is not None:
                    batches.submit()
                if any(work.send_count(i) for i in range(len(runnable))):
                    t0, c0 = time.perf_counter(), time.process_time()
                    asyncio.run(send_all())
                    timings["send"] = round(time.perf_counter() - t0, 3)
                    self.execution["send_cpu_s"] = round(time.process_time() - c0, 3)
                if batches is not None:
                    batches.finish()  # poll until every batch has ended, writing what lands
        except KeyboardInterrupt:
            return "interrupted"
        return "finished"

    def _batches(
        self,
        runnable: list[ModelPlan],
        work: Work,
        fan: FanOut,
        cache: ResponseCache | None,
        ledger: LedgerWriter,
        progress: RunProgress,
    ) -> Any:
        """The models that go through their provider's batch API (:mod:`evalkit.batch`), their cells
        taken off the live work; None when no model does."""
        from evalkit.run.batch import BatchRun, poll_interval, uses_batch

        chosen = [(i, p) for i, p in enumerate(runnable) if uses_batch(p, self.options.batch)]
        if not chosen:
            return None
        batches = BatchRun(
            run_dir=ledger.path.parent,
            plans=chosen,
            samples=self.samples,
            renderer=self.renderer,
            fan=fan,
            cache=cache,
            ledger=ledger,
            progress=progress,
            budget=self.budget,
            echo=self.echo,
            poll_s=poll_interval(self.options.batch_poll_s),
        )
        batches.take(work)
        return batches

    def _record_map_prices(self) -> None:
        """Record LiteLLM's price for each API model the suite does not price, in run.json: the report
        (and every re-report) then costs the run as of the run, without importing LiteLLM again."""
        from dataclasses import asdict

        from evalkit.providers.litellm import litellm_price_info

        for p in self.plans:
            c = p.config
            if p.is_local or c.price is not None or c.self_hosted is not None:
                continue
            found = litellm_price_info(c.model)
            p.map_price = asdict(found) if found is not None else None
            p.map_price_looked_up = True

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

    def _cancel_reporter(self) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
            self._reporter = None

    def _load_replays(self, resume_dir: Path | None) -> None:
        """Load the replayed models' answers (:mod:`evalkit.run.recorded`); ConfigError when not comparable."""
        load_replays(
            self.plans,
            samples=self.samples,
            all_samples=self.dataset.samples,
            epochs=self.suite.epochs,
            dataset_sha256=self.dataset.sha256,
            task_hash=self.loaded.task_hash,
            suite_path=self.loaded.path,
            resume_manifest=read_manifest(resume_dir) if resume_dir is not None else None,
        )

    def _check_resume(self, resume_dir: Path) -> set[tuple[str, str, int]]:
        """Refuse a resume whose suite or data changed; the cells already in the ledger."""
        manifest = read_manifest(resume_dir)
        if manifest.get("suite", {}).get("hash") != self.loaded.suite_hash:
            raise RunDirError(
                f"{resume_dir}: the suite changed since this run started "
                f"({self.loaded.path}); start a new run instead of resuming"
            )
        if manifest.get("dataset", {}).get("sha256") != self.dataset.sha256:
            raise RunDirError(
                f"{resume_dir}: the dataset {self.dataset.path} changed since this run started; "
                "start a new run instead of resuming"
            )
        recorded = Shard.from_manifest(manifest.get("shard"), f"{resume_dir}/run.json")
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

    def _counts(self, planned: int) -> dict[str, int]:
        return {
            "planned": planned,
            "done": sum(p.done for p in self.plans),
            "errors": sum(p.errors for p in self.plans),
            "cached": sum(p.cached for p in self.plans),
        }

    def _outcome(self, run_dir: Path, planned: int) -> RunOutcome:
        counts = self._counts(planned)
        if self.budget.exhausted:
            return RunOutcome(
                run_dir,
                ExitCode.INFRASTRUCTURE,
                f"budget reached: ${self.budget.spent_usd:.4f} of ${self.budget.cap_usd:.4f} spent, "
                f"{planned - counts['done']} request(s) not sent; report written. Continue with: "
                f"evalkit run --resume {run_dir} --max-cost <higher cap>",
                warnings=self.dataset.warnings,
                **counts,
            )
        failed = [p for p in self.plans if p.status == "ok" and p.done and p.errors == p.done]
        stopped = [p for p in self.plans if p.status == "stopped"]
        if failed or stopped:
            names = ", ".join(f"{p.name} ({p.reason or 'every request failed'})" for p in [*failed, *stopped])
            return RunOutcome(
                run_dir,
                ExitCode.INFRASTRUCTURE,
                f"report written, but models failed: {names}",
                warnings=self.dataset.warnings,
                **counts,
            )
        return RunOutcome(
            run_dir,
            ExitCode.OK,
            f"report: {run_dir / 'report.html'}",
            warnings=self.dataset.warnings,
            **counts,
        )

    def _prepare_dir(self, resume_dir: Path | None) -> tuple[Path, dict[str, Any]]:
        if resume_dir is not None:
            manifest = read_manifest(resume_dir)
            manifest.update(status="running", resumed_at=_now_iso())
            write_manifest(resume_dir, manifest)
            return resume_dir, manifest
        run_dir = self.options.output_dir / self.suite.name / new_run_id()
        run_dir.mkdir(parents=True, exist_ok=False)
        manifest = {
            "format": 1,
            "run_id": run_dir.name,
            "status": "running",
            "started_at": _now_iso(),
            "finished_at": None,
            "suite": {
                "name": self.suite.name,
                "version": self.suite.version,
                "path": str(self.loaded.path),
                "hash": self.loaded.suite_hash,
                "task_hash": self.loaded.task_hash,
            },
            "suite_config": self.suite.model_dump(mode="json"),
            "dataset": {
                "path": str(self.dataset.path),
                "sha256": self.dataset.sha256,
                "n_samples": len(self.dataset),
                "n_used": len(self.samples),
                "format": self.dataset.format,
            },
            "options": {
                "models": self.options.models,
                "limit": self.options.limit,
                "batch": self.options.batch,
            },
            "shard": self.options.shard.manifest() if self.options.shard else None,
            "epochs": self.suite.epochs,
            "models": [p.manifest() for p in self.plans],
            "scorers": [{"key": s.key, "name": s.name, "args": s.args} for s in self.suite.scorers],
            "gate": self.suite.gate.model_dump(mode="json") | {"scorer": self.suite.gate_scorer},
            "versions": {
                "evalkit": __version__,
                "litellm": litellm_version(),
                "python": platform.python_version(),
            },
        }
        write_manifest(run_dir, manifest)
        return run_dir, manifest

    def _start_local_servers(self, plans: list[ModelPlan]) -> None:
        local = [p for p in plans if p.is_local]
        if not local:
            return
        from evalkit.providers.local import ensure_local_model

        for p in local:
            alias = p.config.model.split("/", 1)[1]
            self.echo(f"starting the embedded model {alias} (llama.cpp, CPU)...")
            endpoint = ensure_local_model(alias)
            p.call_model, p.call_base, p.api_key = endpoint.litellm_model, endpoint.api_base, endpoint.api_key

    def _write_report(self, run_dir: Path) -> None:
        """In the report process when there is one (it already loaded the writer); in this process
        when there is none, or when it failed (so a failure raises here, as it would have)."""
        reporter, self._reporter = self._reporter, None
        if reporter is not None and reporter.write(run_dir):
            return
        from evalkit.report import write_report

        write_report(run_dir)


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
    recorded = Shard.from_manifest(manifest.get("shard"), f"{run_dir}/run.json")
    if shard is not None and shard != recorded:
        raise RunDirError(
            f"{run_dir}: this run is {f'shard {recorded}' if recorded else 'not sharded'}; "
            f"--shard {shard} cannot resume it (leave --shard out to continue it as it started)"
        )
    suite_path = Path(manifest.get("suite", {}).get("path", ""))
    loaded = load_suite(suite_path)
    opts = manifest.get("options", {})
    runner = Runner(
        loaded,
        RunOptions(
            models=opts.get("models"),
            limit=opts.get("limit"),
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
