"""One run (new or resumed), from the loaded suite to the report, in four phases:

1. **preflight** (:mod:`evalkit.run.preflight`) — every check that can fail, before anything is
   written or sent;
2. **open** — the run folder and its manifest (:mod:`evalkit.rundir.manifest`);
3. **send** (:mod:`evalkit.run.send`) — land the recorded answers and the cache hits, then send the
   rest (the network and the providers' batch APIs), every answer through the one recorder
   (:mod:`evalkit.run.recorder`);
4. **finish** — the manifest's outcome, the report, and an exit code.

``--resume`` skips every cell already in the ledger, so an interrupted run never pays twice.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evalkit._version import __version__
from evalkit.config.dataset import Dataset
from evalkit.config.load import LoadedSuite, load_suite
from evalkit.errors import ExitCode, RunDirError
from evalkit.providers.litellm import litellm_price_info, litellm_version
from evalkit.run.context import Echo, RunContext
from evalkit.run.plan import RunOptions
from evalkit.run.preflight import preflight
from evalkit.run.send import send
from evalkit.rundir.manifest import Manifest, new_run_id, now_iso, read_manifest, write_manifest
from evalkit.rundir.records import DatasetRecord, ScorerEntry, SuiteRecord
from evalkit.rundir.shard import Shard

__all__ = ["RunOptions", "RunOutcome", "Runner", "resume"]


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


class Runner:
    """Plans and executes one run (new or resumed)."""

    def __init__(self, loaded: LoadedSuite, options: RunOptions, *, echo: Echo = print) -> None:
        self.ctx = RunContext.build(loaded, options, echo)

    @property
    def dataset(self) -> Dataset:
        """The dataset this run reads (its warnings are shown before the run starts)."""
        return self.ctx.dataset

    def execute(self, resume_dir: Path | None = None) -> RunOutcome:
        """Run (or continue) the suite and write its report. Nothing is sent before every sample rendered."""
        ctx = self.ctx
        ctx.resuming = resume_dir is not None
        try:
            prep = preflight(ctx, resume_dir)
            run_dir, manifest = self._open(resume_dir)
            if not ctx.runnable:
                return self._nothing_ran(run_dir, manifest)
            status = send(ctx, run_dir, manifest, prep)
            return self._finish(run_dir, manifest, status)
        finally:
            if ctx.reporter is not None:  # a report process not given a report (interrupted, an error) leaves
                ctx.reporter.cancel()
                ctx.reporter = None

    # --- 2. open ------------------------------------------------------------------------------

    def _open(self, resume_dir: Path | None) -> tuple[Path, Manifest]:
        """The run folder and its manifest (``running``), written before the first request."""
        ctx = self.ctx
        if resume_dir is not None:
            manifest = read_manifest(resume_dir)
            manifest.update(status="running", resumed_at=now_iso())
            run_dir = resume_dir
        else:
            run_dir = ctx.options.output_dir / ctx.suite.name / new_run_id()
            run_dir.mkdir(parents=True, exist_ok=False)
            manifest = self._new_manifest(run_dir.name)
        write_manifest(run_dir, manifest)
        for p, s in zip(ctx.plans, ctx.states, strict=True):
            if s.status == "skipped":
                ctx.echo(f"skipping {p.name} ({p.config.model}): {s.reason}")
        return run_dir, manifest

    def _new_manifest(self, run_id: str) -> Manifest:
        ctx = self.ctx
        suite, data, loaded, opts = ctx.suite, ctx.dataset, ctx.loaded, ctx.options
        return Manifest.new(
            run_id=run_id,
            suite=SuiteRecord(
                suite.name, suite.version, str(loaded.path), loaded.suite_hash, loaded.task_hash
            ),
            suite_config=suite.model_dump(mode="json"),
            dataset=DatasetRecord(str(data.path), data.sha256, len(data), len(ctx.samples), data.format),
            options={"models": opts.models, "limit": opts.limit, "batch": opts.batch},
            shard=opts.shard,
            epochs=suite.epochs,
            models=ctx.model_entries(),
            scorers=[ScorerEntry(s.key, s.name, s.args) for s in suite.scorers],
            gate=suite.gate.model_dump(mode="json") | {"scorer": suite.gate_scorer},
            versions={
                "evalkit": __version__,
                "litellm": litellm_version(),
                "python": platform.python_version(),
            },
        )

    def _nothing_ran(self, run_dir: Path, manifest: Manifest) -> RunOutcome:
        manifest.update(status="failed", finished_at=now_iso(), models=self.ctx.model_entries())
        write_manifest(run_dir, manifest)
        self._write_report(run_dir)
        return RunOutcome(
            run_dir,
            ExitCode.INFRASTRUCTURE,
            "no model could run: every model was skipped (see the lines above)",
        )

    # --- 4. finish ----------------------------------------------------------------------------

    def _finish(self, run_dir: Path, manifest: Manifest, status: str) -> RunOutcome:
        """Record how the run went, write the report, and say what it means."""
        ctx = self.ctx
        shard = ctx.options.shard
        if status == "finished" and ctx.budget.exhausted:
            status = "budget_exhausted"
        self._record_map_prices()
        if status == "finished" and shard is not None and shard.count > 1:
            status = "partial"  # this shard's cells are done; the suite's are not until `evalkit merge`
        counts = ctx.counts()
        manifest.update(
            status=status,
            finished_at=now_iso(),
            models=ctx.model_entries(),
            counts=counts,
            budget=ctx.budget.manifest(),
            execution=ctx.execution,
        )
        write_manifest(run_dir, manifest)
        if status == "interrupted":
            msg = f"interrupted: what finished is saved. Resume with: evalkit run --resume {run_dir}"
            return RunOutcome(run_dir, ExitCode.INTERRUPTED, msg, warnings=ctx.dataset.warnings, **counts)
        self._write_report(run_dir)
        outcome = self._outcome(run_dir, counts)
        if status == "partial":
            outcome.message = (
                f"shard {shard} finished ({ctx.n_owned} of {len(ctx.samples)} samples; its report is partial). "
                f"{outcome.message}. Combine the shards with: evalkit merge RUN_DIR..."
            )
        return outcome

    def _record_map_prices(self) -> None:
        """Record LiteLLM's price for each API model the suite does not price, in run.json: the report
        (and every re-report) then costs the run as of the run, without importing LiteLLM again."""
        for p, s in zip(self.ctx.plans, self.ctx.states, strict=True):
            c = p.config
            if p.is_local or c.price is not None or c.self_hosted is not None:
                continue
            found = litellm_price_info(c.model)
            s.price_map = asdict(found) if found is not None else None
            s.price_map_looked_up = True

    def _outcome(self, run_dir: Path, counts: dict[str, int]) -> RunOutcome:
        ctx = self.ctx
        warnings = ctx.dataset.warnings
        if ctx.budget.exhausted:
            return RunOutcome(
                run_dir,
                ExitCode.INFRASTRUCTURE,
                f"budget reached: ${ctx.budget.spent_usd:.4f} of ${ctx.budget.cap_usd:.4f} spent, "
                f"{counts['planned'] - counts['done']} request(s) not sent; report written. Continue with: "
                f"evalkit run --resume {run_dir} --max-cost <higher cap>",
                warnings=warnings,
                **counts,
            )
        pairs = list(zip(ctx.plans, ctx.states, strict=True))
        failed = [(p, s) for p, s in pairs if s.ok and s.done and s.errors == s.done]
        stopped = [(p, s) for p, s in pairs if s.status == "stopped"]
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
        reporter, self.ctx.reporter = self.ctx.reporter, None
        if reporter is not None and reporter.write(run_dir):
            return
        from evalkit.report import write_report

        write_report(run_dir)


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
