"""Adaptive concurrency per model: back off when the provider says 429, creep back when it stops.

Additive increase, multiplicative decrease (as TCP does): a 429 halves the model's allowed
in-flight requests, once per congestion event: only a 429 to an attempt that started after the
last cut or pause can cut again (and at most once per ``cooldown_s``), so the 429s of one burst,
already in flight when the first came back, count once. Every ``limit`` successes in a row raise
it by one, up to the suite's ``concurrency``. Only network attempts hold a slot: cache hits and
back-off sleeps do not.

A 429 that says when to come back (``retry-after-ms`` or ``Retry-After``, up to ``max_pause_s``)
also closes the model's gate until then: no new attempt of that model starts before the
provider said it would take one, so the other workers do not spend their attempts on a window
already known to be full (and such a paced 429 does not use up an attempt: see
:func:`evalkit.providers.retry.complete`). With a rolling-window limit the slots that free during the pause are
taken in one burst when the gate opens, so the run keeps to the provider's rate (measured in
``bench/results.md``) with few 429s and no sample lost to them. A longer Retry-After (a daily
quota) closes nothing: each attempt's own retry policy gives up on it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class AdaptiveLimiter:
    def __init__(
        self, maximum: int, *, minimum: int = 1, cooldown_s: float = 1.0, max_pause_s: float = 60.0
    ) -> None:
        self.maximum = maximum
        self.minimum = min(minimum, maximum)
        self.limit = maximum
        self.in_flight = 0
        self.peak = 0
        """The most attempts ever in flight at once (never above ``maximum``)."""
        self.throttles = 0
        self.lowest = maximum
        self.paused_s = 0.0
        """Total time the gate was closed by Retry-After."""
        self._successes = 0
        self._last_cut = -float("inf")
        self._cooldown = cooldown_s
        self._max_pause = max_pause_s
        self._closed_until = 0.0
        self._events = 0
        """Cuts and pauses so far: an attempt's ticket from :meth:`acquire`."""
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot (and for the gate); the ticket to give back to :meth:`release`."""
        while True:
            pause = self._closed_until - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            if self.in_flight < self.limit:
                break
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return self._events

    def release(
        self, *, throttled: bool, retry_after: float | None = None, ticket: int | None = None
    ) -> None:
        """Give the slot back (synchronous, so it is safe in ``finally`` during cancellation).

        ``retry_after``: seconds the provider asked to wait, with a 429 (closes the gate that long).
        ``ticket``: what :meth:`acquire` returned for this attempt (a 429 to an attempt that started
        before the last cut or pause does not cut again); None counts as current.
        """
        self.in_flight -= 1
        now = time.monotonic()
        if throttled:
            self.throttles += 1
            self._successes = 0
            current = ticket is None or ticket >= self._events
            if current and now - self._last_cut >= self._cooldown:
                self.limit = max(self.minimum, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                self._last_cut = now
                self._events += 1
            if retry_after is not None and 0 < retry_after <= self._max_pause:
                until = now + retry_after
                if until > self._closed_until:
                    if self._closed_until <= now:
                        self._events += 1  # the gate closes (again): a new congestion event
                    self.paused_s += until - max(now, self._closed_until)
                    self._closed_until = until
        else:
            self._successes += 1
            if self._successes >= self.limit and self.limit < self.maximum:
                self.limit += 1
                self._successes = 0
        free = self.limit - self.in_flight
        while free > 0 and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                free -= 1
