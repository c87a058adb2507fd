"""What a run will do before it does anything: its options, and each model as it will be called.

:class:`ModelPlan` is one model as this run calls it (parameters, retry policy, price, the identity
its cache keys use, whether it can run), frozen once planned; the run's live counters are in
:mod:`evalkit.run.state`, the pending cells in :mod:`evalkit.run.work`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalkit._util.names import did_you_mean
from evalkit.config.catalog import LOCAL_PROVIDER, get_local_spec
from evalkit.config.load import resolve_path
from evalkit.config.schema import ModelConfig, Suite
from evalkit.economics import ApiPrice
from evalkit.errors import ConfigError
from evalkit.providers.credentials import api_key_for, missing_credentials
from evalkit.providers.pricing import run_price
from evalkit.providers.replicas import bases_of, identity_base
from evalkit.providers.retry import RetryPolicy
from evalkit.rundir.shard import Shard

__all__ = ["ModelPlan", "RunOptions", "plan_models"]


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
    """``--batch``: closed openai/ and anthropic/ models go through their provider's batch API (evalkit.run.batch)."""
    batch_poll_s: float | None = None
    """Seconds between batch status polls (None: ``$EVALKIT_BATCH_POLL_S``, else 30)."""
    shard: Shard | None = None
    """Run only this shard's samples (``--shard i/n``, :mod:`evalkit.rundir.shard`); None = every sample."""


@dataclass(frozen=True)
class ModelPlan:
    """One model as this run will call it: settled before the first request, never changed after
    (what changes as the run goes is its :class:`~evalkit.run.state.ModelState`)."""

    config: ModelConfig
    group: str
    params: dict[str, Any]
    concurrency: int
    policy: RetryPolicy
    pricing: ApiPrice | None
    """The suite's or the user price file's price (None: LiteLLM's own figure, its map, or unknown)."""
    identity_model: str
    """What the cache key says the model is (stable across runs; ``local/<alias>@...`` for embedded models)."""
    identity_base: str | None
    call_model: str
    """The LiteLLM model string actually called."""
    call_base: str | None = None
    api_key: str | None = None
    bases: tuple[str, ...] = ()
    """Several ``api_base``s: the replicas the requests are spread across (:mod:`evalkit.providers.replicas`)."""
    replay_path: Path | None = None
    """``replay:`` resolved against the suite's folder: this model's answers are recorded, never sent."""
    skip_reason: str | None = None
    """Why the model cannot run (a missing key): it is skipped, with this reason."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def is_local(self) -> bool:
        return self.config.model.startswith(LOCAL_PROVIDER + "/")

    def with_endpoint(self, model: str, base: str, api_key: str) -> ModelPlan:
        """The same plan called at another endpoint (an embedded model's server, once it is up)."""
        return replace(self, call_model=model, call_base=base, api_key=api_key)


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
    bases = bases_of(m.api_base)
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
        call_base=next(iter(bases), None),
        bases=tuple(bases) if len(bases) > 1 and m.replay is None else (),
    )
    if m.replay is not None:  # recorded answers: no credentials, no server, never in the cache
        suite_path = where if where is not None else Path("suite.yaml")
        path = resolve_path(
            suite_path.parent.resolve(), m.replay, what=f"models.{m.name}.replay", suite_path=suite_path
        )
        recorded = f"replay/{m.name}"
        return replace(
            plan,
            replay_path=path,
            identity_model=recorded,
            call_model=recorded,
            identity_base=None,
            call_base=None,
        )
    if plan.is_local:
        return replace(plan, identity_model=_local_identity(m.model.split("/", 1)[1]), bases=())
    reason = missing_credentials(m.model, api_base=plan.call_base, api_key_env=m.api_key_env)
    if reason:
        return replace(plan, skip_reason=reason)
    return replace(plan, api_key=api_key_for(plan.call_base, m.api_key_env))


def _local_identity(alias: str) -> str:
    """The cache identity of an embedded model: its alias and the exact weights and runtime that serve it."""
    from importlib.metadata import PackageNotFoundError, version

    spec = get_local_spec(alias)
    parts = [f"{LOCAL_PROVIDER}/{alias}", spec.fingerprint()]  # weights file, chat template, context size
    for dist in (spec.distribution, spec.runtime):
        try:
            parts.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}==?")
    return "@".join(parts)
