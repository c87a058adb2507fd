"""The :class:`Sandbox`: a chosen backend, the limits, and a bound on how many samples run at once.

``await sandbox.run(units)`` runs one program and returns its :class:`~evalkit.sandbox.spec.Execution`;
at most ``max_parallel`` run at the same time per event loop (each run is a child process, so the
event loop only waits on pipes). :meth:`Sandbox.run_sync` is the same for callers without a loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence

from evalkit.sandbox.backends import DEFAULT_IMAGE, Backend
from evalkit.sandbox.execute import cpu_count, execute
from evalkit.sandbox.select import choose_backend, run_sync
from evalkit.sandbox.spec import Execution, Limits, Unit

__all__ = ["Sandbox", "open_sandbox"]


class Sandbox:
    """Runs programs in fresh, isolated child processes, ``max_parallel`` at a time."""

    def __init__(
        self,
        backend: Backend,
        limits: Limits | None = None,
        *,
        max_parallel: int | None = None,
        nice: int = 10,
        notes: Sequence[str] = (),
    ) -> None:
        if max_parallel is not None and (
            isinstance(max_parallel, bool)
            or not isinstance(max_parallel, int)
            or not 1 <= max_parallel <= 256
        ):
            raise ValueError(f"max_parallel must be an integer in [1, 256] (got {max_parallel!r})")
        if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
            raise ValueError(f"nice must be an integer in [0, 19] (got {nice!r})")
        self.backend = backend
        self.limits = limits or Limits()
        self.max_parallel = max_parallel or cpu_count()
        self.nice = nice
        self.notes = tuple(notes)
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def name(self) -> str:
        """``container``, ``namespaces`` or ``process``."""
        return self.backend.name

    @property
    def description(self) -> str:
        """What the code is kept from and within what limits, for the report's "sandbox used" line."""
        lim = self.limits
        text = (
            f"{self.name}: {self.backend.isolation()}; per sample: {lim.timeout_s:g} s wall clock, "
            f"{lim.cpu_limit_s:g} s CPU, {lim.memory_mb} MB memory and {lim.file_mb} MB files per process, "
            f"{lim.processes} processes, {lim.open_files} open files; at most {self.max_parallel} at once"
        )
        if self.notes:
            text += " (skipped: " + "; ".join(self.notes) + ")"
        return text

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_parallel)
        return gate

    async def run(self, units: Sequence[Unit]) -> Execution:
        """Run ``units`` in a fresh sandbox once a slot is free."""
        async with self._gate():
            return await execute(self.backend, units, self.limits, nice=self.nice)

    def run_sync(self, units: Sequence[Unit]) -> Execution:
        """:meth:`run` for code without an event loop (or inside one: it runs in a helper thread)."""
        return run_sync(lambda: self.run(units))


def open_sandbox(
    kind: str = "auto",
    limits: Limits | None = None,
    *,
    max_parallel: int | None = None,
    nice: int = 10,
    python: str | None = None,
    image: str = DEFAULT_IMAGE,
    engine: str | None = None,
) -> Sandbox:
    """The strongest working sandbox (``auto``) or the one asked for; raises ``SandboxUnavailable``."""
    backend, notes = choose_backend(kind, python=python, image=image, engine=engine)
    return Sandbox(backend, limits, max_parallel=max_parallel, nice=nice, notes=notes)
