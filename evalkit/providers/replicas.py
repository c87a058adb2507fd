"""Several ``api_base``s for one model: which replica each attempt goes to, and what each one served.

A suite may list several servers of the same model (vLLM replicas, one per GPU or node)::

    api_base: [http://gpu1:8000/v1, http://gpu2:8000/v1]

:class:`ReplicaSet` picks the replica of every *attempt* in the parent process, where the retry
policy, the limiter and the worker pool's dispatch already live: the replica with the fewest
attempts in flight, ties broken in turn (so equal replicas get equal shares). A replica whose
attempt failed in a retryable way (connection refused, timeout, 429, 5xx) is *cooling* for
:data:`COOLDOWN_S`: no attempt goes to it while another replica is not cooling; and the retry of
that very request goes to another replica whenever there is one. After the cooldown the replica
gets attempts again, so one that comes back is used again; one that fails again cools twice as
long (up to :data:`MAX_COOLDOWN_S`), so a dead replica costs one probe a minute, not a stream of
attempts that each wait for a timeout. Failures of attempts already in flight when it started
cooling do not lengthen the cooldown (a burst of 503s is one failure, not thirty).

Why not LiteLLM's ``Router`` (one deployment per base, ``routing_strategy="least-busy"``): its
in-flight counts and cooldowns live in the process that calls it, and evalkit's attempts run in
several worker processes (:mod:`evalkit.providers.pool`), so each worker would balance only its own share;
and it brings its own retries and fallbacks on top of evalkit's policy (the stacking that
:mod:`evalkit.providers` switches off). Choosing here keeps one policy and one view of the load;
the :class:`~evalkit.providers.Call` sent to a worker simply carries the chosen ``api_base``.

The model's ``concurrency`` is the total across its replicas (it is the limiter's cap, as for any
model): with least-in-flight each replica holds about ``concurrency / N``.

The response cache does not see replicas: :func:`identity_base` is the same whichever replica
answers and whatever order the suite lists them in (for one base, the base itself, as before).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace
from typing import Any

from evalkit.providers.litellm import Attempt, Call, Send, attempt
from evalkit.providers.retry import is_retryable

__all__ = ["COOLDOWN_S", "MAX_COOLDOWN_S", "ReplicaSet", "bases_of", "identity_base"]

COOLDOWN_S = 5.0
"""Seconds a replica is avoided after a retryable failure (LiteLLM's Router default cooldown too)."""
MAX_COOLDOWN_S = 60.0
"""The cooldown doubles with each failure in a row after a cooldown ended, up to this."""


def bases_of(api_base: str | list[str] | None) -> list[str]:
    """The model's bases as a list (empty when it has none)."""
    if api_base is None:
        return []
    return [api_base] if isinstance(api_base, str) else list(api_base)


def identity_base(api_base: str | list[str] | None) -> str | None:
    """What the cache key says the endpoint is: independent of the replica that answers and of the order.

    One base (a string or a one-item list): that base, exactly as before replicas existed, so existing
    caches still hit. Several: the sorted bases joined by a space (no URL contains one). Adding or
    removing a replica changes it: the new set may serve another build of the model.
    """
    bases = bases_of(api_base)
    if not bases:
        return None
    if len(bases) == 1:
        return bases[0]
    return " ".join(sorted(bases))


@dataclass
class _Replica:
    base: str
    in_flight: int = 0
    sent: int = 0
    """Attempts sent."""
    ok: int = 0
    failed: int = 0
    """Attempts that came back with an error (any kind)."""
    cooling_until: float = 0.0
    streak: int = 0
    """Cooldowns in a row (reset by a success)."""


class ReplicaSet:
    """The replicas of one model and the choice of each attempt's replica (one per model per run)."""

    def __init__(
        self, bases: list[str], *, cooldown_s: float = COOLDOWN_S, max_cooldown_s: float = MAX_COOLDOWN_S
    ) -> None:
        if not bases:
            raise ValueError("a ReplicaSet needs at least one base")
        self._replicas = [_Replica(b) for b in bases]
        self._by_base = {r.base: r for r in self._replicas}
        self._turn = itertools.count()
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s

    @property
    def bases(self) -> list[str]:
        return [r.base for r in self._replicas]

    def pick(self, avoid: str | None = None) -> str:
        """The replica for the next attempt: not ``avoid`` and not cooling if possible, then the least busy."""
        now = time.monotonic()
        pool = [r for r in self._replicas if r.base != avoid] or self._replicas
        healthy = [r for r in pool if r.cooling_until <= now]
        if healthy:
            fewest = min(r.in_flight for r in healthy)
            tied = [r for r in healthy if r.in_flight == fewest]
            return tied[next(self._turn) % len(tied)].base
        return min(pool, key=lambda r: r.cooling_until).base  # all cooling: the one that recovers first

    def started(self, base: str) -> None:
        r = self._by_base[base]
        r.in_flight += 1
        r.sent += 1

    def finished(self, base: str, outcome: Attempt | None) -> None:
        """Count the attempt's outcome (None: cancelled); a retryable failure starts the replica's cooldown."""
        r = self._by_base[base]
        r.in_flight -= 1
        if outcome is None:
            return
        if outcome.error is None:
            r.ok += 1
            r.streak = 0
            return
        r.failed += 1
        now = time.monotonic()
        if is_retryable(outcome.error) and r.cooling_until <= now:  # not already cooling
            r.streak += 1
            r.cooling_until = now + min(self.max_cooldown_s, self.cooldown_s * 2 ** (r.streak - 1))

    def route(self, send: Send | None) -> Send:
        """``send`` (default: :func:`~evalkit.providers.litellm.attempt`) with each attempt sent to a chosen replica.

        Make one per request: it remembers the replica of the request's last attempt, and a retry
        after a retryable failure goes to another replica when there is one.
        """
        run = send or attempt
        last_failed: str | None = None

        async def routed(call: Call) -> Attempt:
            nonlocal last_failed
            base = self.pick(avoid=last_failed)
            self.started(base)
            outcome: Attempt | None = None
            try:
                outcome = await run(replace(call, api_base=base))
            finally:
                self.finished(base, outcome)
            assert outcome is not None
            last_failed = base if outcome.error is not None and is_retryable(outcome.error) else None
            return outcome

        return routed

    def manifest(self) -> list[dict[str, Any]]:
        """Per replica, for run.json: its base, the attempts it was sent, how many succeeded and failed."""
        return [
            {"api_base": r.base, "attempts": r.sent, "ok": r.ok, "failed": r.failed} for r in self._replicas
        ]
