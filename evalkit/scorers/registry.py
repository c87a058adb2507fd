"""The scorer registry: decorated factories whose keyword arguments are their configuration.

A scorer is a factory decorated with :func:`scorer`. Called with the suite's arguments it
returns a small function ``(output_text, sample) -> Score``. The factory's docstring's first
line is its help (``evalkit scorers``). Unknown names and unknown arguments fail when the suite
loads, with a "did you mean" suggestion, never mid-run.

A factory may instead return an *async* function (``async def fn(text, sample) -> Score``, or an
object with an ``async def __call__``), for scorers that wait on something (``code_exec`` runs
each sample in a child process). :func:`is_async_scorer` tells them apart. :func:`build_scorer`
returns a plain function unless ``allow_async=True``: an async scorer is then wrapped by
:func:`as_sync`, so a caller that knows only sync scorers keeps working (one sample at a time).
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, overload

from evalkit.errors import ConfigError
from evalkit.types import Sample, Score

ScoreFn = Callable[[str, Sample], Score]
"""Judge one output text for one sample. Must not raise on any text: a bad output is a verdict."""
AsyncScoreFn = Callable[[str, Sample], Awaitable[Score]]
"""The same, awaited: many samples can be judged at once on one event loop."""
AnyScoreFn = ScoreFn | AsyncScoreFn


def is_async_scorer(fn: object) -> bool:
    """True when calling ``fn`` gives an awaitable (an ``async def``, or an object with one as ``__call__``)."""
    call = type(fn).__dict__.get("__call__") if not inspect.isroutine(fn) else None
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def as_sync(fn: AnyScoreFn) -> ScoreFn:
    """``fn`` as a plain function; an async one runs to the end in a private event loop per call
    (in a helper thread when the caller is itself inside a running loop)."""
    if not is_async_scorer(fn):
        return cast(ScoreFn, fn)
    afn = cast(AsyncScoreFn, fn)

    async def once(text: str, sample: Sample) -> Score:
        return await afn(text, sample)

    def sync(text: str, sample: Sample) -> Score:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(once(text, sample))
        box: list[Score | BaseException] = []

        def target() -> None:
            try:
                box.append(asyncio.run(once(text, sample)))
            except BaseException as exc:
                box.append(exc)

        t = threading.Thread(target=target, name="evalkit-scorer-sync")
        t.start()
        t.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    sync.__doc__ = getattr(fn, "__doc__", None)
    sync.__wrapped__ = fn  # type: ignore[attr-defined]
    return sync


def as_async(fn: AnyScoreFn) -> AsyncScoreFn:
    """``fn`` as an async function (a sync one is called directly: scorers are quick and in-process)."""
    if is_async_scorer(fn):
        return cast(AsyncScoreFn, fn)
    sfn = cast(ScoreFn, fn)

    async def afn(text: str, sample: Sample) -> Score:
        return sfn(text, sample)

    return afn


@dataclass(frozen=True)
class ScorerSpec:
    """A registered scorer family."""

    name: str
    factory: Callable[..., AnyScoreFn]
    help: str


_REGISTRY: dict[str, ScorerSpec] = {}


def scorer(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``factory`` under ``name``.

    The factory may take a ``base_dir: Path`` keyword: it receives the suite's directory so
    that file arguments (a label list, a schema file) resolve relative to the suite.
    """

    def register(factory: Callable[..., Any]) -> Callable[..., Any]:
        doc = inspect.getdoc(factory) or ""
        _REGISTRY[name] = ScorerSpec(name, factory, doc.splitlines()[0] if doc else "")
        return factory

    return register


def registered() -> dict[str, ScorerSpec]:
    """All scorers, by name (importing the built-in families first)."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


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
) -> AnyScoreFn:
    """Instantiate scorer ``name`` with ``args``; raise :class:`ConfigError` naming ``where`` on any problem.

    With ``allow_async=True`` an async scorer comes back as it is (check :func:`is_async_scorer`);
    otherwise it is wrapped by :func:`as_sync`.
    """
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
        fn = spec.factory(**args)
    except ConfigError:
        raise
    except (TypeError, ValueError, OSError) as exc:
        raise ConfigError(f"{where}: scorer '{name}': {exc}") from None
    return fn if allow_async else as_sync(fn)


def _load_builtins() -> None:
    # Importing the family modules runs their @scorer decorators.
    from evalkit.scorers import code_exec, exact, json_valid, numeric, refusal  # noqa: F401
