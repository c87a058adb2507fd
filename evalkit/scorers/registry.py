"""The scorer registry: decorated factories whose keyword arguments are their configuration.

A scorer is a factory decorated with :func:`scorer`. Called with the suite's arguments it
returns a small function ``(output_text, sample) -> Score``. The factory's docstring's first
line is its help (``evalkit scorers``). Unknown names and unknown arguments fail when the suite
loads, with a "did you mean" suggestion, never mid-run.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import ConfigError
from evalkit.types import Sample, Score

ScoreFn = Callable[[str, Sample], Score]
"""Judge one output text for one sample. Must not raise on any text: a bad output is a verdict."""


@dataclass(frozen=True)
class ScorerSpec:
    """A registered scorer family."""

    name: str
    factory: Callable[..., ScoreFn]
    help: str


_REGISTRY: dict[str, ScorerSpec] = {}


def scorer(name: str) -> Callable[[Callable[..., ScoreFn]], Callable[..., ScoreFn]]:
    """Register ``factory`` under ``name``.

    The factory may take a ``base_dir: Path`` keyword: it receives the suite's directory so
    that file arguments (a label list, a schema file) resolve relative to the suite.
    """

    def register(factory: Callable[..., ScoreFn]) -> Callable[..., ScoreFn]:
        doc = inspect.getdoc(factory) or ""
        _REGISTRY[name] = ScorerSpec(name, factory, doc.splitlines()[0] if doc else "")
        return factory

    return register


def registered() -> dict[str, ScorerSpec]:
    """All scorers, by name (importing the built-in families first)."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def build_scorer(
    name: str, args: dict[str, Any] | None = None, *, base_dir: Path | None = None, where: str = "scorers"
) -> ScoreFn:
    """Instantiate scorer ``name`` with ``args``; raise :class:`ConfigError` naming ``where`` on any problem."""
    specs = registered()
    spec = specs.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ConfigError(f"{where}: unknown scorer '{name}'.{hint} Known: {', '.join(specs)}")
    args = dict(args or {})
    params = inspect.signature(spec.factory).parameters
    accepted = [p for p in params if p != "base_dir"]
    for key in args:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]}?" if close else ""
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


def _load_builtins() -> None:
    # Importing the family modules runs their @scorer decorators.
    from evalkit.scorers import exact, instructions, json_valid, refusal  # noqa: F401
