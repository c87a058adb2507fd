"""The sandbox's nouns: what to run (:class:`Unit`), within what (:class:`Limits`), and what came of it
(:class:`Execution`, one :class:`UnitResult` per unit that ran).

A program is a list of units executed in order in one namespace of globals: a ``setup`` unit (imports
the tests need), the ``solution`` (the model's code), ``harness`` code (e.g. HumanEval's ``check``
definition) and ``test`` units (one assert statement, or a call of ``check``). A failing ``test``
does not stop the next one, so a verdict can say "2 of 3 tests failed"; any other failing unit stops
the run. Everything here is frozen and JSON-friendly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["UNIT_KINDS", "Execution", "Limits", "Status", "Unit", "UnitResult"]

UNIT_KINDS = ("setup", "solution", "harness", "test")


@dataclass(frozen=True, slots=True)
class Unit:
    """One piece of the program, compiled and run on its own (so errors name it)."""

    name: str
    """The file name the code is compiled under (``<solution>``, ``<test 2>``); tracebacks name it."""
    source: str
    kind: str = "solution"
    """One of :data:`UNIT_KINDS`."""

    def __post_init__(self) -> None:
        if self.kind not in UNIT_KINDS:
            raise ValueError(f"unit kind must be one of {', '.join(UNIT_KINDS)} (got {self.kind!r})")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one sample may use. Every limit applies per sample; memory and file size per process."""

    timeout_s: float = 30.0
    """Wall clock from the moment the sandbox is ready; the parent kills everything at the deadline.
    Generous, because a busy machine stretches it; the CPU limit is what stops a loop."""
    cpu_s: float | None = None
    """CPU seconds per process (RLIMIT_CPU); ``None`` = the smaller of ``timeout_s`` and 10."""
    memory_mb: int = 512
    """Address space per process (RLIMIT_AS); a container also caps the total at this plus 64 MB."""
    processes: int = 16
    """Processes and threads (RLIMIT_NPROC; a container's pids limit)."""
    file_mb: int = 16
    """Largest file the code may write (RLIMIT_FSIZE)."""
    open_files: int = 64
    """Open file descriptors (RLIMIT_NOFILE)."""
    disk_mb: int = 64
    """Size of the private ``/sandbox`` and ``/tmp`` (tmpfs) in the namespaces and in a container."""
    output_kb: int = 64
    """How much of what the code prints is kept (the rest is read and dropped)."""
    startup_s: float = 20.0
    """How long the sandbox may take to get ready (start a container, build the namespaces)."""

    def __post_init__(self) -> None:
        for name in ("timeout_s", "startup_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 3600:
                raise ValueError(f"{name} must be a number of seconds in (0, 3600] (got {v!r})")
        if self.cpu_s is not None and (
            isinstance(self.cpu_s, bool)
            or not isinstance(self.cpu_s, int | float)
            or not 0 < self.cpu_s <= 3600
        ):
            raise ValueError(f"cpu_s must be a number of seconds in (0, 3600] or null (got {self.cpu_s!r})")
        bounds = {
            "memory_mb": (32, 1 << 20),
            "processes": (1, 4096),
            "file_mb": (1, 1 << 20),
            "open_files": (16, 1 << 16),
            "disk_mb": (1, 1 << 16),
            "output_kb": (1, 1 << 16),
        }
        for name, (lo, hi) in bounds.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}] (got {v!r})")

    @property
    def cpu_limit_s(self) -> float:
        return float(self.cpu_s if self.cpu_s is not None else min(self.timeout_s, 10.0))

    def to_child(self) -> dict[str, float | int]:
        """The limits the code inside applies to itself (the wall clock stays with the parent)."""
        return {
            "cpu_s": self.cpu_limit_s,
            "memory_mb": self.memory_mb,
            "processes": self.processes,
            "file_mb": self.file_mb,
            "open_files": self.open_files,
            "disk_mb": self.disk_mb,
        }


class Status(StrEnum):
    """How a run ended, as the sandbox sees it (the scorer turns it into a verdict)."""

    COMPLETED = "completed"
    """Every unit was run (some tests may have failed: see :attr:`Execution.units`)."""
    FAILED = "failed"
    """A setup, solution or harness unit failed (syntax error, exception): the tests did not all run."""
    TIMEOUT = "timeout"
    """The wall clock or the CPU limit ran out."""
    ENDED = "ended"
    """The code's process ended before the units finished (``exit()``, ``os._exit``, a signal)."""
    SANDBOX_ERROR = "sandbox_error"
    """The sandbox itself failed (could not start, could not set up): not the code's fault."""


@dataclass(frozen=True, slots=True)
class UnitResult:
    """What one unit did. ``where``/``line``/``source_line`` point at the innermost frame in a unit."""

    index: int
    name: str
    kind: str
    ok: bool
    syntax: bool = False
    """The unit did not compile."""
    error_type: str | None = None
    message: str | None = None
    """The exception's message, from the code: hostile text, already clipped."""
    where: str | None = None
    """The unit the failing frame is in (a test's failure may be raised inside the solution)."""
    line: int | None = None
    source_line: str | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """The outcome of one run in a sandbox."""

    status: Status
    sandbox: str
    """The sandbox that ran it (``namespaces``, ``container``, ``process``)."""
    units: tuple[UnitResult, ...] = ()
    """The units that finished, in order."""
    n_units: int = 0
    last_started: int | None = None
    """Index of the last unit that started (the one that hung, on a timeout)."""
    timeout_kind: str | None = None
    """``wall`` or ``cpu`` when :attr:`status` is ``TIMEOUT``."""
    exit_code: int | None = None
    exit_signal: str | None = None
    duration_s: float = 0.0
    cpu_s: float | None = None
    max_rss_kb: int | None = None
    output: str = ""
    """The start of what the code printed (stdout and stderr together), clipped and cleaned."""
    detail: str = ""
    """For ``SANDBOX_ERROR`` (and ``ENDED``): what went wrong, in words."""
    facts: dict[str, object] = field(default_factory=dict)
    """What the sandbox reported about itself when it was ready (mode, Python version, ...)."""

    @property
    def tests(self) -> tuple[UnitResult, ...]:
        return tuple(u for u in self.units if u.kind == "test")

    @property
    def first_failure(self) -> UnitResult | None:
        return next((u for u in self.units if not u.ok), None)
