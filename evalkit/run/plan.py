"""What a run will do before it does anything: its options, each model as it will be called, and the work.

:class:`ModelPlan` is one model as this run calls it (parameters, retry policy, price, the
identity its cache keys use, whether it can run). :func:`scan` turns the samples into the run's
work in one pass: it renders every sample once (which is also the check that every template
variable exists, before any request), computes each pending cell's cache key, and asks the
cache which of them it holds, a few hundred keys per query. The result, :class:`Work`, holds
only the keys of the cache hits and one byte per pending cell, never a rendered prompt or a
result, so a 100,000-sample run plans in a few megabytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit._util.names import did_you_mean
from evalkit.run.cache import KeyMaker, ResponseCache
from evalkit.config.catalog import LOCAL_PROVIDER
from evalkit.config.load import resolve_path
from evalkit.config.prompt import Renderer
from evalkit.config.schema import ModelConfig, Suite
from evalkit.economics import ApiPrice
from evalkit.errors import ConfigError
from evalkit.providers.credentials import api_key_for, missing_credentials
from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.providers.pricing import run_price
from evalkit.providers.replicas import ReplicaSet, bases_of, identity_base
from evalkit.providers.retry import RetryPolicy
from evalkit.run.recorded import Replay
from evalkit.rundir.shard import Shard
from evalkit.types import Sample

__all__ = ["ModelPlan", "RunOptions", "Work", "cpu_cores", "plan_models", "scan"]

Cell = tuple[str, str, int]
"""(sample_id, model, epoch)."""

SCAN_CHUNK = 512
"""Samples rendered per cache query batch."""


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
    workers: int | None = None
    """Worker processes for the network fan-out: 0 = all in this process; None = ``$EVALKIT_WORKERS``,
    else chosen from the cores and the load (:func:`evalkit.providers.pool.pool_size`)."""
    batch: bool = False
    """``--batch``: closed openai/ and anthropic/ models go through their provider's batch API (evalkit.batch)."""
    batch_poll_s: float | None = None
    """Seconds between batch status polls (None: ``$EVALKIT_BATCH_POLL_S``, else 30)."""
    shard: Shard | None = None
    """Run only this shard's samples (``--shard i/n``, :mod:`evalkit.rundir.shard`); None = every sample."""


@dataclass
class ModelPlan:
    """One model as this run will call it."""

    config: ModelConfig
    group: str
    params: dict[str, Any]
    concurrency: int
    policy: RetryPolicy
    pricing: ApiPrice | None
    identity_model: str
    """What the cache key says the model is (stable across runs; ``local/<alias>`` for embedded models)."""
    identity_base: str | None
    call_model: str
    """The LiteLLM model string actually called."""
    call_base: str | None = None
    map_price: dict[str, Any] | None = None
    """LiteLLM's price-map entry for the model, looked up once at the end of the run (``None``: no entry)."""
    map_price_looked_up: bool = False
    api_key: str | None = None
    limiter: AdaptiveLimiter | None = None
    replicas: ReplicaSet | None = None
    """Several ``api_base``s: the replica of each attempt and what each served (:mod:`evalkit.providers.replicas`)."""
    status: str = "ok"
    reason: str | None = None
    done: int = 0
    errors: int = 0
    cached: int = 0
    replay_path: Path | None = None
    """``replay:`` resolved against the suite's folder: this model's answers are recorded, never sent."""
    replay: Replay | None = None
    """The loaded answers (:func:`evalkit.run.recorded.load_replays`, before the first request)."""
    replay_todo: list[bytearray] | None = None
    """``replay_todo[epoch][sample]`` is 1 for a cell to replay (:func:`evalkit.run.recorded.set_aside_replays`)."""
    replayed: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def is_local(self) -> bool:
        return self.config.model.startswith(LOCAL_PROVIDER + "/")

    def manifest(self) -> dict[str, Any]:
        c = self.config
        return {
            "name": c.name,
            "model": c.model,
            "group": self.group,
            "api_base": c.api_base,
            "replicas": self.replicas.manifest() if self.replicas is not None else None,
            "params": self.params,
            "concurrency": self.concurrency,
            "price": c.price.model_dump() if c.price else None,
            **({"price_map": self.map_price} if self.map_price_looked_up else {}),
            "status": self.status,
            "status_reason": self.reason,
            "counts": {"done": self.done, "errors": self.errors, "cached": self.cached}
            | ({"replayed": self.replayed} if self.replay_path is not None else {}),
            **({"replay": self._replay_manifest()} if self.replay_path is not None else {}),
            "concurrency_seen": None
            if self.limiter is None
            else {
                "peak": self.limiter.peak,
                "lowest_limit": self.limiter.lowest,
                "throttled": self.limiter.throttles,
                "paused_s": round(self.limiter.paused_s, 3),
            },
        }

    def _replay_manifest(self) -> dict[str, Any]:
        if self.replay is not None:
            return self.replay.manifest()
        return {"path": str(self.replay_path)}


def plan_models(suite: Suite, wanted: list[str] | None, where: Path) -> list[ModelPlan]:
    """The suite's models (or the ``wanted`` ones, in the suite's order of asking), each planned."""
    return [_plan(suite, m, where) for m in _selected(suite, wanted, where)]


def _selected(suite: Suite, wanted: list[str] | None, where: Path) -> list[ModelConfig]:
    models = suite.models
    if not wanted:
        return list(models)
    names = [m.name for m in models]
    chosen = []
    for want in wanted:
        if want not in names:
            hint = did_you_mean(want, names)
            raise ConfigError(
                f"--models: '{want}' is not a model of {where}.{hint} Models: {', '.join(names)}"
            )
        chosen.append(next(m for m in models if m.name == want))
    return chosen


def _plan(suite: Suite, m: ModelConfig, where: Path | None = None) -> ModelPlan:
    d = suite.defaults
    policy = RetryPolicy(
        max_attempts=m.max_attempts or d.max_attempts,
        timeout_s=m.timeout_s or d.timeout_s,
        max_retry_time_s=d.max_retry_time_s,
    )
    pricing = run_price(m.model, m.price)
    plan = ModelPlan(
        config=m,
        group=str(m.group),
        params=suite.params_for(m),
        concurrency=suite.concurrency_for(m),
        policy=policy,
        pricing=pricing,
        identity_model=m.model,
        identity_base=identity_base(m.api_base),  # one base: itself; replicas: all of them, in any order
        call_model=m.model,
        call_base=next(iter(bases_of(m.api_base)), None),
    )
    if len(bases_of(m.api_base)) > 1 and not plan.is_local and m.replay is None:
        plan.replicas = ReplicaSet(bases_of(m.api_base))
    if m.replay is not None:  # recorded answers: no credentials, no server, never in the cache
        suite_path = where if where is not None else Path("suite.yaml")
        plan.replay_path = resolve_path(
            suite_path.parent.resolve(), m.replay, what=f"models.{m.name}.replay", suite_path=suite_path
        )
        plan.identity_model = plan.call_model = f"replay/{m.name}"
        plan.identity_base = plan.call_base = None
        return plan
    if plan.is_local:
        plan.identity_model = _local_identity(m.model.split("/", 1)[1])
        return plan
    reason = missing_credentials(m.model, api_base=plan.call_base, api_key_env=m.api_key_env)
    if reason:
        plan.status, plan.reason = "skipped", reason
    else:
        plan.api_key = api_key_for(plan.call_base, m.api_key_env)
    return plan


def _local_identity(alias: str) -> str:
    """The cache identity of an embedded model: its alias and the exact weights and runtime that serve it."""
    from importlib.metadata import PackageNotFoundError, version

    from evalkit.config.catalog import get_local_spec

    spec = get_local_spec(alias)
    parts = [f"{LOCAL_PROVIDER}/{alias}", spec.fingerprint()]  # weights file, chat template, context size
    for dist in (spec.distribution, spec.runtime):
        try:
            parts.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}==?")
    return "@".join(parts)


@dataclass
class Work:
    """The run's pending cells, split into cache hits (replayed without the network) and cells to send."""

    epochs: int
    n_samples: int
    hits: list[tuple[int, int, int, str]] = field(default_factory=list)
    """(plan index, epoch, sample index, cache key) of each pending cell the cache holds."""
    todo: list[list[bytearray]] = field(default_factory=list)
    """``todo[plan][epoch][sample]`` is 1 for a cell to send."""

    def send_count(self, plan_index: int) -> int:
        return sum(row.count(1) for row in self.todo[plan_index])

    def cells_to_send(self, plan_index: int) -> Iterator[tuple[int, int]]:
        """(sample index, epoch) of the model's cells to send, epoch by epoch in sample order."""
        for e, row in enumerate(self.todo[plan_index]):
            i = row.find(1)
            while i != -1:
                if row[i]:  # a cell may be taken off (sent elsewhere) while this iterates
                    yield i, e
                i = row.find(1, i + 1)

    def mark_to_send(self, plan_index: int, epoch: int, sample_index: int) -> None:
        self.todo[plan_index][epoch][sample_index] = 1


def scan(
    samples: list[Sample],
    renderer: Renderer,
    plans: list[ModelPlan],
    epochs: int,
    done: set[Cell],
    cache: ResponseCache | None,
    shard: Shard | None = None,
) -> Work:
    """Render every sample once (raising :class:`ConfigError` for a missing template variable) and sort
    the pending cells of ``plans`` into cache hits and cells to send. With ``shard``, every sample is
    still rendered (the same check in every shard) but only the shard's samples get cells."""
    n = len(samples)
    work = Work(epochs=epochs, n_samples=n, todo=[[bytearray(n) for _ in range(epochs)] for _ in plans])
    keyers = [KeyMaker(p.identity_model, p.identity_base, p.params) for p in plans]
    names = [p.name for p in plans]
    for start in range(0, n, SCAN_CHUNK):
        batch: list[tuple[int, int, int, str]] = []
        for si in range(start, min(n, start + SCAN_CHUNK)):
            sample = samples[si]
            messages = renderer.render(sample)  # every sample, even when no model runs: the template check
            if not plans or (shard is not None and not shard.owns(sample.id)):
                continue
            canonical = KeyMaker.messages_json(messages) if cache is not None else ""
            for pi, name in enumerate(names):
                for e in range(epochs):
                    if done and (sample.id, name, e) in done:
                        continue
                    if cache is None:
                        work.todo[pi][e][si] = 1
                    else:
                        batch.append((pi, e, si, keyers[pi].key(canonical, e)))
        if batch and cache is not None:
            held = cache.present([k for *_, k in batch])
            for cell in batch:
                if cell[3] in held:
                    work.hits.append(cell)
                else:
                    work.todo[cell[0]][cell[1]][cell[2]] = 1
    return work


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
