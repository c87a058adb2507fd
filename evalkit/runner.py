"""The fan-out: every model x sample x epoch, through the cache and the provider, into the ledger.

Each model has its own pool of ``concurrency`` workers pulling cells from one iterator,
so at most that many of its requests are in flight and nothing holds all results in
memory. A result is appended (and flushed) to ``samples.jsonl`` the moment it is scored;
``--resume`` skips every cell already there, so an interrupted run never pays twice.
A 401/403 stops that model's remaining requests (they are not written, so a resume after
fixing the key sends them); every other failure is recorded as data.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import platform
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.budget import Budget
from evalkit.cache import ResponseCache, request_key
from evalkit.dataset import Dataset, load_dataset
from evalkit.errors import ConfigError, ExitCode, InfrastructureError, RunDirError
from evalkit.ledger import LedgerWriter, done_cells, iter_results, read_manifest
from evalkit.limiter import AdaptiveLimiter
from evalkit.progress import RunProgress
from evalkit.prompt import Renderer
from evalkit.providers import (
    Pricing,
    RetryPolicy,
    api_key_for,
    complete,
    litellm_version,
    missing_credentials,
)
from evalkit.providers_list import LOCAL_PROVIDER
from evalkit.scorers.registry import ScoreFn, build_scorer
from evalkit.suite import LoadedSuite, ModelConfig, load_suite
from evalkit.types import Completion, ErrorKind, Request, Result, Sample, Score

Echo = Callable[[str], None]


@dataclass
class RunOptions:
    models: list[str] | None = None
    """Display names to run (default: every model of the suite)."""
    limit: int | None = None
    """Only the first N samples (for a quick look; the report says so)."""
    output_dir: Path = Path("results")
    use_cache: bool = True
    progress: bool = True
    max_cost_usd: float | None = None
    """Overrides the suite's ``max_cost_usd`` (not part of the suite's hash, so a resume may raise it)."""


@dataclass
class ModelPlan:
    """One model as this run will call it."""

    config: ModelConfig
    group: str
    params: dict[str, Any]
    concurrency: int
    policy: RetryPolicy
    pricing: Pricing | None
    identity_model: str
    """What the cache key says the model is (stable across runs; ``local/<alias>`` for embedded models)."""
    identity_base: str | None
    call_model: str
    """The LiteLLM model string actually called."""
    call_base: str | None = None
    api_key: str | None = None
    limiter: AdaptiveLimiter | None = None
    status: str = "ok"
    reason: str | None = None
    done: int = 0
    errors: int = 0
    cached: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    def manifest(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": c.name,
            "model": c.model,
            "group": self.group,
            "api_base": c.api_base,
            "params": self.params,
            "concurrency": self.concurrency,
            "price": c.price.model_dump() if c.price else None,
            "status": self.status,
            "status_reason": self.reason,
            "counts": {"done": self.done, "errors": self.errors, "cached": self.cached},
            "concurrency_seen": None
            if self.limiter is None
            else {
                "peak": self.limiter.peak,
                "lowest_limit": self.limiter.lowest,
                "throttled": self.limiter.throttles,
            },
        }


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
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Atomically replace run.json (a kill never leaves half a manifest)."""
    tmp = run_dir / "run.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / "run.json")


class Runner:
    """Plans and executes one run (new or resumed)."""

    def __init__(self, loaded: LoadedSuite, options: RunOptions, *, echo: Echo = print) -> None:
        self.loaded = loaded
        self.suite = loaded.suite
        self.options = options
        self.echo = echo
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
        for s in self.samples:  # every template variable checked before the first request
            self.renderer.render(s)
        self.scorers: dict[str, ScoreFn] = {
            sc.key: build_scorer(
                sc.name, sc.args, base_dir=loaded.base_dir, where=f"{loaded.path}: scorers.{i}"
            )
            for i, sc in enumerate(self.suite.scorers)
        }
        self.plans = [self._plan(m) for m in self._selected_models()]

    # --- planning ----------------------------------------------------------------------------

    def _selected_models(self) -> list[ModelConfig]:
        models = self.suite.models
        if not self.options.models:
            return list(models)
        names = [m.name for m in models]
        chosen = []
        for want in self.options.models:
            if want not in names:
                close = difflib.get_close_matches(want, names, n=1, cutoff=0.5)
                hint = f" Did you mean {close[0]}?" if close else ""
                raise ConfigError(
                    f"--models: '{want}' is not a model of {self.loaded.path}.{hint} "
                    f"Models: {', '.join(names)}"
                )
            chosen.append(next(m for m in models if m.name == want))
        return chosen

    def _plan(self, m: ModelConfig) -> ModelPlan:
        d = self.suite.defaults
        policy = RetryPolicy(
            max_attempts=m.max_attempts or d.max_attempts,
            timeout_s=m.timeout_s or d.timeout_s,
            max_retry_time_s=d.max_retry_time_s,
        )
        pricing = Pricing(m.price.input_per_mtok, m.price.output_per_mtok) if m.price else None
        plan = ModelPlan(
            config=m,
            group=str(m.group),
            params=self.suite.params_for(m),
            concurrency=self.suite.concurrency_for(m),
            policy=policy,
            pricing=pricing,
            identity_model=m.model,
            identity_base=m.api_base,
            call_model=m.model,
            call_base=m.api_base,
        )
        if m.model.startswith(LOCAL_PROVIDER + "/"):
            plan.identity_model = _local_identity(m.model.split("/", 1)[1])
            return plan
        reason = missing_credentials(m.model, api_base=m.api_base, api_key_env=m.api_key_env)
        if reason:
            plan.status, plan.reason = "skipped", reason
        else:
            plan.api_key = api_key_for(m.api_base, m.api_key_env)
        return plan

    # --- execution ---------------------------------------------------------------------------

    def execute(self, resume_dir: Path | None = None) -> RunOutcome:
        from evalkit.doctor import unreachable_endpoints

        failed = unreachable_endpoints([p.config for p in self.plans if p.status == "ok"])
        if failed:
            names = "; ".join(f"{c.model}: {c.detail}" for c in failed)
            raise InfrastructureError(f"{names} — start the server or fix api_base (nothing was sent)")
        run_dir, manifest, done = self._prepare_dir(resume_dir)
        for p in self.plans:
            if p.status == "skipped":
                self.echo(f"skipping {p.name} ({p.config.model}): {p.reason}")
        runnable = [p for p in self.plans if p.status == "ok"]
        epochs = self.suite.epochs
        planned = len(self.samples) * epochs * len(runnable)
        remaining = planned - sum(1 for c in done if c[1] in {p.name for p in runnable})
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
        cache = ResponseCache.default() if self.options.use_cache else None
        self.budget = Budget(self.options.max_cost_usd or self.suite.max_cost_usd)
        if resume_dir is not None and self.budget.cap_usd is not None:
            self.budget.spent_usd = sum(
                r.completion.cost_usd or 0.0 for r in iter_results(run_dir) if not r.completion.cached
            )
        if self.budget.cap_usd is not None:
            for p in runnable:
                if p.pricing is None and not p.config.model.startswith(LOCAL_PROVIDER + "/"):
                    self.echo(f"note: max_cost_usd counts {p.name} only where LiteLLM knows its price")
        to_send = {p.name: self._to_send(p, done, cache) for p in runnable}
        self.echo(
            f"run {run_dir}: {len(runnable)} model(s) x {len(self.samples)} samples x {epochs} epoch(s); "
            f"{remaining} to go, {sum(to_send.values())} of them not in the cache"
        )
        try:
            self._start_local_servers([p for p in runnable if to_send[p.name]])
        except InfrastructureError:
            if cache is not None:
                cache.close()
            manifest.update(status="failed", finished_at=_now_iso())
            write_manifest(run_dir, manifest)
            raise
        ledger = LedgerWriter(run_dir / "samples.jsonl")
        progress = RunProgress(
            [(p.name, len(self.samples) * epochs) for p in runnable],
            enabled=self.options.progress,
            echo=self.echo,
        )
        for p in runnable:
            already = sum(1 for c in done if c[1] == p.name)
            p.done = already
            progress.advance(p.name, already, errors=0, cost=None, initial=True)
        status = "finished"
        try:
            with progress:
                _run_async(self._fan_out(runnable, done, cache, ledger, progress))
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            ledger.close()
            if cache is not None:
                if cache.corrupt:
                    self.echo(
                        f"warning: {cache.corrupt} corrupt cache entr(y/ies) in {cache.path} were dropped"
                    )
                cache.close()
            from evalkit.local import stop_local_models

            stop_local_models()
        if status == "finished" and self.budget.exhausted:
            status = "budget_exhausted"
        manifest.update(
            status=status,
            finished_at=_now_iso(),
            models=[p.manifest() for p in self.plans],
            counts=self._counts(planned),
            budget=self.budget.manifest(),
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
        return self._outcome(run_dir, planned)

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

    def _prepare_dir(self, resume_dir: Path | None) -> tuple[Path, dict[str, Any], set[tuple[str, str, int]]]:
        if resume_dir is not None:
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
            manifest.update(status="running", resumed_at=_now_iso())
            write_manifest(resume_dir, manifest)
            warnings: list[str] = []
            done = done_cells(resume_dir, warnings)
            for w in warnings:
                self.echo(f"warning: {w} (that cell will be sent again)")
            return resume_dir, manifest, done
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
            "options": {"models": self.options.models, "limit": self.options.limit},
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
        return run_dir, manifest, set()

    def _pending(self, plan: ModelPlan, done: set[tuple[str, str, int]]) -> Iterator[tuple[Sample, int]]:
        return (
            (s, e) for e in range(self.suite.epochs) for s in self.samples if (s.id, plan.name, e) not in done
        )

    def _request(self, plan: ModelPlan, sample: Sample, epoch: int) -> Request:
        return Request(
            model=plan.identity_model,
            messages=self.renderer.render(sample),
            params=plan.params,
            api_base=plan.identity_base,
            epoch=epoch,
        )

    def _to_send(self, plan: ModelPlan, done: set[tuple[str, str, int]], cache: ResponseCache | None) -> int:
        """How many of the model's remaining cells miss the cache (a fully cached re-run starts no server)."""
        pending = self._pending(plan, done)
        if cache is None:
            return sum(1 for _ in pending)
        return sum(not cache.contains(request_key(self._request(plan, s, e))) for s, e in pending)

    def _start_local_servers(self, plans: list[ModelPlan]) -> None:
        local = [p for p in plans if p.config.model.startswith(LOCAL_PROVIDER + "/")]
        if not local:
            return
        from evalkit.local import ensure_local_model

        for p in local:
            alias = p.config.model.split("/", 1)[1]
            self.echo(f"starting the embedded model {alias} (llama.cpp, CPU)...")
            endpoint = ensure_local_model(alias)
            p.call_model, p.call_base, p.api_key = endpoint.litellm_model, endpoint.api_base, endpoint.api_key

    def _write_report(self, run_dir: Path) -> None:
        from evalkit.report import write_report

        write_report(run_dir)

    async def _fan_out(
        self,
        plans: list[ModelPlan],
        done: set[tuple[str, str, int]],
        cache: ResponseCache | None,
        ledger: LedgerWriter,
        progress: RunProgress,
    ) -> None:
        async def run_model(plan: ModelPlan) -> None:
            plan.limiter = AdaptiveLimiter(plan.concurrency)
            cells = self._pending(plan, done)

            async def worker() -> None:
                for sample, epoch in cells:  # shared iterator: each cell is taken by exactly one worker
                    if plan.status != "ok" or self.budget.exhausted:
                        return
                    result = await self._one(plan, sample, epoch, cache)
                    if result is None:
                        continue
                    ledger.append(result)
                    plan.done += 1
                    plan.cached += result.completion.cached
                    plan.errors += not result.completion.ok
                    spent = result.completion.cost_usd
                    if spent is not None and result.completion.cached:
                        spent = 0.0  # a cached answer costs nothing this run
                    progress.advance(plan.name, 1, errors=int(not result.completion.ok), cost=spent)

            await asyncio.gather(*(worker() for _ in range(plan.concurrency)))

        await asyncio.gather(*(run_model(p) for p in plans))

    async def _one(
        self, plan: ModelPlan, sample: Sample, epoch: int, cache: ResponseCache | None
    ) -> Result | None:
        request = self._request(plan, sample, epoch)
        key = request_key(request)
        completion = cache.get(key) if cache is not None else None
        if completion is None:
            reserved = self.budget.allow(plan.name)
            if reserved is None:
                return None  # over budget: not sent, not written; the worker stops
            completion = await complete(
                request,
                policy=plan.policy,
                api_key=plan.api_key,
                pricing=plan.pricing,
                call_model=plan.call_model,
                call_base=plan.call_base,
                limiter=plan.limiter,
            )
            self.budget.settle(plan.name, reserved, completion.cost_usd)
            if completion.error is not None and completion.error.kind == ErrorKind.AUTH:
                if plan.status == "ok":
                    env = plan.config.api_key_env or _key_var(plan.config.model)
                    plan.status = "stopped"
                    plan.reason = (
                        f"HTTP {completion.error.status}: the provider rejected the credentials; check {env}"
                    )
                    self.echo(f"stopping {plan.name}: {plan.reason}")
                return None  # not written: a resume with a fixed key sends it
            if cache is not None:
                cache.put(key, completion)
        scores = self._score(completion, sample) if completion.ok else {}
        return Result(
            sample_id=sample.id,
            model=plan.name,
            epoch=epoch,
            completion=completion,
            scores=scores,
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


def _local_identity(alias: str) -> str:
    """The cache identity of an embedded model: its alias and the exact weights and runtime that serve it."""
    from importlib.metadata import PackageNotFoundError, version

    from evalkit.local import get_local_spec

    spec = get_local_spec(alias)
    parts = [f"{LOCAL_PROVIDER}/{alias}", spec.fingerprint()]  # weights file, chat template, context size
    for dist in (spec.distribution, spec.runtime):
        try:
            parts.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}==?")
    return "@".join(parts)


def _key_var(model: str) -> str:
    provider = model.split("/", 1)[0]
    return {
        "openai": "OPENAI_API_KEY",
        "anthropic": "ANTHROPIC_API_KEY",
        "gemini": "GEMINI_API_KEY",
        "together_ai": "TOGETHERAI_API_KEY",
        "groq": "GROQ_API_KEY",
        "fireworks_ai": "FIREWORKS_AI_API_KEY",
        "openrouter": "OPENROUTER_API_KEY",
    }.get(provider, f"the API key for {provider}")


def _run_async(coro: Any) -> None:
    """Run the fan-out; SIGTERM is treated like Ctrl+C so both leave a resumable run."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        asyncio.run(coro)
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
) -> RunOutcome:
    """Continue an interrupted run with the options it was started with."""
    manifest = read_manifest(run_dir)
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
        ),
        echo=echo,
    )
    return runner.execute(resume_dir=run_dir)
