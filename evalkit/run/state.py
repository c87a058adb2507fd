"""What changes about a model as a run goes: its status, its counters, its limiter and replicas, and the price LiteLLM's map gave it. One :class:`ModelState` per
:class:`~evalkit.run.plan.ModelPlan`, written only by the run package (the recorder counts, the
senders stop a model, the runner records the price); :func:`model_entry` turns the pair into the
model's ``models[]`` entry of run.json.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.providers.limiter import AdaptiveLimiter
from evalkit.providers.replicas import ReplicaSet
from evalkit.run.plan import ModelPlan

__all__ = ["ModelState", "model_entry"]


@dataclass
class ModelState:
    """One model's live state in this run."""

    status: str = "ok"
    """``ok``, ``skipped`` (it could not run: a missing key) or ``stopped`` (a 401/403 mid-run)."""
    reason: str | None = None
    done: int = 0
    """Cells in the ledger (answered or errored), this run and the runs it resumes."""
    errors: int = 0
    cached: int = 0
    replayed: int = 0
    limiter: AdaptiveLimiter | None = None
    """The adaptive in-flight limit while the model sends (:mod:`evalkit.providers.limiter`)."""
    replicas: ReplicaSet | None = None
    """Several ``api_base``s: the replica of each attempt and what each served."""
    price_map: dict[str, Any] | None = None
    """LiteLLM's price-map entry for the model, looked up once at the end of the run (``None``: no entry)."""
    price_map_looked_up: bool = False

    @classmethod
    def for_plan(cls, plan: ModelPlan) -> ModelState:
        """The state a planned model starts in."""
        state = cls()
        if plan.skip_reason is not None:
            state.status, state.reason = "skipped", plan.skip_reason
        if plan.bases:
            state.replicas = ReplicaSet(list(plan.bases))
        return state

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def stop(self, reason: str) -> bool:
        """Stop the model (its remaining requests are not sent); False when it was already stopped."""
        if self.status != "ok":
            return False
        self.status, self.reason = "stopped", reason
        return True


def model_entry(
    plan: ModelPlan, state: ModelState, replay_record: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The model's ``models[]`` entry of run.json (docs/run-folder.md); ``replay_record``: what its
    recorded answers' source was (:meth:`evalkit.run.recorded.Replay.manifest`)."""
    c = plan.config
    replay: dict[str, Any] | None = None
    if plan.replay_path is not None:
        replay = replay_record if replay_record is not None else {"path": str(plan.replay_path)}
    limiter = state.limiter
    return {
        "name": c.name,
        "model": c.model,
        "group": plan.group,
        "api_base": c.api_base,
        "replicas": state.replicas.manifest() if state.replicas is not None else None,
        "params": plan.params,
        "concurrency": plan.concurrency,
        "price": c.price.model_dump() if c.price else None,
        **({"price_map": state.price_map} if state.price_map_looked_up else {}),
        "status": state.status,
        "status_reason": state.reason,
        "counts": {"done": state.done, "errors": state.errors, "cached": state.cached}
        | ({"replayed": state.replayed} if plan.replay_path is not None else {}),
        **({"replay": replay} if replay is not None else {}),
        "concurrency_seen": None
        if limiter is None
        else {
            "peak": limiter.peak,
            "lowest_limit": limiter.lowest,
            "throttled": limiter.throttles,
            "paused_s": round(limiter.paused_s, 3),
        },
    }
