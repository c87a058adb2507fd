"""The scorer registry: decorated factories whose keyword arguments are their configuration.

A scorer is a factory decorated with :func:`scorer`. Called with the suite's arguments it returns a
small function ``(output_text, sample) -> Score``. The decorator also says:

* ``reads="completion"``: the function is called with the whole :class:`~evalkit.types.Completion`
  instead of its text (it reads more than the text, e.g. the completion's tool calls);
* ``metrics=``: the family's own summary metrics, an :class:`~evalkit.scorers.metrics.base.Accumulator`
  class (or a function of the scorer's arguments that makes one), streamed over the run's verdicts
  (Inspect's ``@scorer(metrics=...)``); without it, the class counts alone.

A factory may return an *async* function (:mod:`evalkit.scorers._async`); :func:`build_scorer` wraps
it into a blocking one unless ``allow_async=True`` (the run awaits it, many samples at once). The
factory's docstring's first line is its help (``evalkit scorers``). Unknown names and unknown
arguments fail when the suite loads, with a "did you mean" suggestion, never mid-run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from evalkit._util.names import did_you_mean
from evalkit.errors import ConfigError
from evalkit.scorers._async import AnyScoreFn, ScoreFn, as_sync
from evalkit.scorers.metrics.base import Accumulator
from evalkit.types import Completion, Sample, Score

__all__ = [
    "READS",
    "CompletionScoreFn",
    "ScoreFn",
    "ScorerSpec",
    "build_scorer",
    "extra_metrics",
    "metrics_for",
    "registered",
    "scorer",
]

CompletionScoreFn = Callable[[Completion, Sample], Score]
"""Judge one whole completion (text, tool calls...) for one sample; what ``reads="completion"`` scorers return."""
READS = ("text", "completion")
"""What a scorer's function is called with: the output text, or the whole :class:`Completion`."""

Metrics = type[Accumulator] | Callable[[Mapping[str, Any]], Accumulator]


@dataclass(frozen=True)
class ScorerSpec:
    """A registered scorer family."""

    name: str
    factory: Callable[..., Any]
    """Returns a :data:`ScoreFn` (``reads == "text"``) or a :data:`CompletionScoreFn`, either maybe async."""
    help: str
    reads: str = "text"
    """``text``: the function is called as ``fn(output_text, sample)``; ``completion``: ``fn(completion, sample)``."""
    metrics: Metrics | None = None
    """The family's accumulator (see the module docstring)."""


_REGISTRY: dict[str, ScorerSpec] = {}
F = TypeVar("F", bound=Callable[..., Any])


def scorer(name: str, *, reads: str = "text", metrics: Metrics | None = None) -> Callable[[F], F]:
    """Register ``factory`` under ``name``.

    The factory may take a ``base_dir: Path`` keyword: it receives the suite's directory so that file
    arguments (a label list, a schema file) resolve relative to the suite. ``reads`` (one of
    :data:`READS`) says what the returned function is called with; ``metrics`` the family's accumulator.
    """
    if reads not in READS:
        raise ValueError(f"scorer {name!r}: reads must be one of {', '.join(READS)} (got {reads!r})")

    def register(factory: F) -> F:
        doc = inspect.getdoc(factory) or ""
        _REGISTRY[name] = ScorerSpec(name, factory, doc.splitlines()[0] if doc else "", reads, metrics)
        return factory

    return register


def registered() -> dict[str, ScorerSpec]:
    """All scorers, by name (the built-in families register when :mod:`evalkit.scorers` is imported,
    which importing this module does first)."""
    return dict(sorted(_REGISTRY.items()))


def metrics_for(name: str, args: Mapping[str, Any] | None = None) -> Accumulator:
    """A fresh accumulator for scorer family ``name`` configured with ``args`` (run.json ``scorers[].args``);
    the class counts alone for a family that declares none (or one this evalkit does not know)."""
    spec = _REGISTRY.get(name)
    if spec is None or spec.metrics is None:
        return Accumulator()
    made = spec.metrics
    if isinstance(made, type):
        return made()
    return made(dict(args or {}))


def extra_metrics(
    name: str, args: Mapping[str, Any] | None, pairs: Iterable[tuple[Any, Score]]
) -> dict[str, Any]:
    """The metrics of one model's verdicts of scorer family ``name``, in one pass (``evalkit score``)."""
    acc = metrics_for(name, args)
    for expected, score in pairs:
        acc.add(expected, score)
    return acc.finish()


@overload
def build_scorer(
    name: str,
    args: dict[str, Any] | None = ...,
    *,
    base_dir: Path | None = ...,
    where: str = ...,
    allow_async: Literal[False] = ...,
) -> ScoreFn: ...


@overload
def build_scorer(
    name: str,
    args: dict[str, Any] | None = ...,
    *,
    base_dir: Path | None = ...,
    where: str = ...,
    allow_async: Literal[True],
) -> AnyScoreFn: ...


def build_scorer(
    name: str,
    args: dict[str, Any] | None = None,
    *,
    base_dir: Path | None = None,
    where: str = "scorers",
    allow_async: bool = False,
) -> Any:
    """Instantiate scorer ``name`` with ``args``; raise :class:`ConfigError` naming ``where`` on any problem.

    For a scorer whose spec ``reads == "completion"`` the function is a :data:`CompletionScoreFn` (call it
    with the :class:`Completion`). With ``allow_async=True`` an async scorer comes back as it is (check
    :func:`~evalkit.scorers._async.is_async_scorer`); otherwise it is wrapped into a blocking one.
    """
    specs = registered()
    spec = specs.get(name)
    if spec is None:
        hint = did_you_mean(name, specs)
        raise ConfigError(f"{where}: unknown scorer '{name}'.{hint} Known: {', '.join(specs)}")
    args = dict(args or {})
    params = inspect.signature(spec.factory).parameters
    accepted = [p for p in params if p != "base_dir"]
    for key in args:
        if key not in accepted:
            hint = did_you_mean(key, accepted)
            raise ConfigError(
                f"{where}: scorer '{name}' has no argument '{key}'.{hint} "
                f"Arguments: {', '.join(accepted) or '(none)'}"
            )
    if "base_dir" in params:
        args["base_dir"] = base_dir or Path.cwd()
    try:
        fn = spec.factory(**args)
    except ConfigError:
        raise
    except (TypeError, ValueError, OSError) as exc:
        raise ConfigError(f"{where}: scorer '{name}': {exc}") from None
    return fn if allow_async else as_sync(fn)
