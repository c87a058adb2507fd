"""evalkit: can this task move from a closed model API to an open-weight model, and what do we gain or lose?

The public face: the nouns a user touches, importable from ``evalkit`` itself. They are loaded on first
use (``evalkit.load_suite`` imports the config layer, ``evalkit.Runner`` the engine), so ``import
evalkit`` costs nothing and never imports LiteLLM. The layout behind them is in docs/architecture.md.

>>> import evalkit
>>> evalkit.ExitCode.INCONCLUSIVE
<ExitCode.INCONCLUSIVE: 4>
>>> sorted(evalkit.__all__) == evalkit.__all__
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evalkit._version import __version__

if TYPE_CHECKING:
    from evalkit.analysis.aggregate import summarize_run
    from evalkit.analysis.gate import evaluate_gate
    from evalkit.analysis.outcome import GateOutcome
    from evalkit.analysis.summary import RunSummary
    from evalkit.config.load import LoadedSuite, load_suite
    from evalkit.errors import (
        ConfigError,
        DataError,
        EvalkitError,
        ExitCode,
        InfrastructureError,
        RunDirError,
    )
    from evalkit.report import write_report
    from evalkit.run.plan import RunOptions
    from evalkit.run.runner import Runner, RunOutcome
    from evalkit.rundir.manifest import Manifest, read_manifest
    from evalkit.scorers.registry import ScoreFn, scorer
    from evalkit.types import Completion, ErrorInfo, ErrorKind, Result, Sample, Score

_EXPORTS: dict[str, str] = {
    "Completion": "evalkit.types",
    "ConfigError": "evalkit.errors",
    "DataError": "evalkit.errors",
    "ErrorInfo": "evalkit.types",
    "ErrorKind": "evalkit.types",
    "EvalkitError": "evalkit.errors",
    "ExitCode": "evalkit.errors",
    "GateOutcome": "evalkit.analysis.outcome",
    "InfrastructureError": "evalkit.errors",
    "LoadedSuite": "evalkit.config.load",
    "Manifest": "evalkit.rundir.manifest",
    "Result": "evalkit.types",
    "RunDirError": "evalkit.errors",
    "RunOptions": "evalkit.run.plan",
    "RunOutcome": "evalkit.run.runner",
    "RunSummary": "evalkit.analysis.summary",
    "Runner": "evalkit.run.runner",
    "Sample": "evalkit.types",
    "Score": "evalkit.types",
    "ScoreFn": "evalkit.scorers.registry",
    "evaluate_gate": "evalkit.analysis.gate",
    "load_suite": "evalkit.config.load",
    "read_manifest": "evalkit.rundir.manifest",
    "scorer": "evalkit.scorers.registry",
    "summarize_run": "evalkit.analysis.aggregate",
    "write_report": "evalkit.report",
}
"""Public name -> the module that defines it."""

__all__ = [
    "Completion",
    "ConfigError",
    "DataError",
    "ErrorInfo",
    "ErrorKind",
    "EvalkitError",
    "ExitCode",
    "GateOutcome",
    "InfrastructureError",
    "LoadedSuite",
    "Manifest",
    "Result",
    "RunDirError",
    "RunOptions",
    "RunOutcome",
    "RunSummary",
    "Runner",
    "Sample",
    "Score",
    "ScoreFn",
    "__version__",
    "evaluate_gate",
    "load_suite",
    "read_manifest",
    "scorer",
    "summarize_run",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
