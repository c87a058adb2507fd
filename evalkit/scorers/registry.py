"""The scorer registry: decorated factories whose keyword arguments are their configuration.

A scorer is a factory decorated with :func:`scorer`. Called with the suite's arguments it
returns a small function ``(output_text, sample) -> Score``; a scorer registered with
``reads="completion"`` returns ``(completion, sample) -> Score`` instead (it reads more than the
text, e.g. the completion's tool calls). The factory's docstring's first
line is its help (``evalkit scorers``). Unknown names and unknown arguments fail when the suite
loads, with a "did you mean" suggestion, never mid-run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from evalkit._util.names import did_you_mean
from evalkit.errors import ConfigError
from evalkit.types import Completion, Sample, Score

ScoreFn = Callable[[str, Sample], Score]
"""Judge one output text for one sample. Must not raise on any text: a bad output is a verdict."""
CompletionScoreFn = Callable[[Completion, Sample], Score]
"""Judge one whole completion (text, tool calls...) for one sample; what ``reads="completion"`` scorers return."""
READS = ("text", "completion")
"""What a scorer's function is called with: the output text, or the whole :class:`Completion`."""


@dataclass(frozen=True)
class ScorerSpec:
    """A registered scorer family."""

    name: str
    factory: Callable[..., Any]
    """Returns a :data:`ScoreFn` (``reads == "text"``) or a :data:`CompletionScoreFn` (``"completion"``)."""
    help: str
    reads: str = "text"
    """``text``: the function is called as ``fn(output_text, sample)``; ``completion``: ``fn(completion, sample)``."""


_REGISTRY: dict[str, ScorerSpec] = {}
F = TypeVar("F", bound=Callable[..., Any])


def scorer(name: str, *, reads: str = "text") -> Callable[[F], F]:
    """Register ``factory`` under ``name``.

    The factory may take a ``base_dir: Path`` keyword: it receives the suite's directory so
    that file arguments (a label list, a schema file) resolve relative to the suite.
    ``reads`` (one of :data:`READS`) says what the returned function is called with.
    """
    if reads not in READS:
        raise ValueError(f"scorer {name!r}: reads must be one of {', '.join(READS)} (got {reads!r})")

    def register(factory: F) -> F:
        doc = inspect.getdoc(factory) or ""
        _REGISTRY[name] = ScorerSpec(name, factory, doc.splitlines()[0] if doc else "", reads)
        return factory

    return register


def registered() -> dict[str, ScorerSpec]:
    """All scorers, by name (the built-in families register when :mod:`evalkit.scorers` is imported,
    which importing this module does first)."""
    return dict(sorted(_REGISTRY.items()))


def build_scorer(
    name: str, args: dict[str, Any] | None = None, *, base_dir: Path | None = None, where: str = "scorers"
) -> ScoreFn:
    """Instantiate scorer ``name`` with ``args``; raise :class:`ConfigError` naming ``where`` on any problem.

    For a scorer whose spec ``reads == "completion"`` the function returned is a
    :data:`CompletionScoreFn` (call it with the :class:`Completion`), whatever the annotation says.
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
        return spec.factory(**args)
    except ConfigError:
        raise
    except (TypeError, ValueError, OSError) as exc:
        raise ConfigError(f"{where}: scorer '{name}': {exc}") from None
