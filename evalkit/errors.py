"""The exception tree and the exit codes.

::

    EvalkitError                 exit 2 unless said otherwise
    ├── ConfigError              a suite that is not valid (unknown key, bad template, bad schema...)
    ├── DataError                a dataset that is not valid (file:line and field)
    ├── RunDirError              a run folder that cannot be read, resumed or reported
    └── InfrastructureError      exit 3: nothing usable came back (every request of a model failed...)

Per-sample failures (a timeout, a 500, malformed JSON) are *not* exceptions: they are
recorded as :class:`evalkit.types.ErrorInfo` and counted. Exceptions are for what must
stop the run before (or instead of) the first request.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0
    """Run finished / the gate says migrate (or is inconclusive with ``gate.inconclusive: pass``)."""
    GATE_FAILED = 1
    """The gate says stay: a gap is shown beyond ``max_gap``, or a floor / error-rate rule failed."""
    USAGE = 2
    """Bad command line, suite, dataset or run folder. Nothing was sent."""
    INFRASTRUCTURE = 3
    """The run could not produce results: every request of a model failed, a server did not start...
    Also the gate's "cannot decide": infrastructure failure or insufficient data."""
    INCONCLUSIVE = 4
    """The gate is inconclusive: the gap interval contains ``max_gap`` (more examples would decide).
    Only with ``gate.inconclusive: fail`` (the default); ``pass`` exits 0 with a warning."""
    PARTIAL = 5
    """The gate says migrate partially: no open model can take over everything, but some slices can move
    to one (``gate.partial.allow: true`` only; summary.json carries the routing rule)."""
    INTERRUPTED = 130
    """Ctrl+C: what finished is on disk; resume with ``evalkit run --resume RUN_DIR``."""


class EvalkitError(Exception):
    """Base class: a one-line message meant for the user, and the exit code it maps to."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(EvalkitError):
    """The suite file is wrong: the message names the file and the key path."""


class DataError(EvalkitError):
    """The dataset is wrong: the message names ``file:line`` and the field."""


class RunDirError(EvalkitError):
    """A run folder is missing, incomplete, or does not match the suite (resume refused)."""


class InfrastructureError(EvalkitError):
    """Something outside the user's input failed so that no result could be produced."""

    exit_code = ExitCode.INFRASTRUCTURE
