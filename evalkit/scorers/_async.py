"""Sync and async scorer functions, told apart and converted: a factory may return an ``async def``
function (or an object with an ``async def __call__``) for scorers that wait on something
(``code_exec`` runs each sample in a child process)."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, cast

from evalkit.types import Sample, Score

__all__ = ["AnyScoreFn", "AsyncScoreFn", "ScoreFn", "as_async", "as_sync", "is_async_scorer"]

ScoreFn = Callable[[str, Sample], Score]
"""Judge one output text for one sample. Must not raise on any text: a bad output is a verdict."""
AsyncScoreFn = Callable[[Any, Sample], Awaitable[Score]]
"""The same, awaited: many samples can be judged at once on one event loop."""
AnyScoreFn = Callable[[Any, Sample], Score] | AsyncScoreFn


def is_async_scorer(fn: object) -> bool:
    """True when calling ``fn`` gives an awaitable (an ``async def``, or an object with one as ``__call__``)."""
    call = type(fn).__dict__.get("__call__") if not inspect.isroutine(fn) else None
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def as_sync(fn: AnyScoreFn) -> Callable[[Any, Sample], Score]:
    """``fn`` as a plain function; an async one runs to the end in a private event loop per call
    (in a helper thread when the caller is itself inside a running loop)."""
    if not is_async_scorer(fn):
        return cast(Callable[[Any, Sample], Score], fn)
    afn = cast(AsyncScoreFn, fn)

    async def once(output: Any, sample: Sample) -> Score:
        return await afn(output, sample)

    def sync(output: Any, sample: Sample) -> Score:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(once(output, sample))
        box: list[Score | BaseException] = []

        def target() -> None:
            try:
                box.append(asyncio.run(once(output, sample)))
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
    for attr in ("sandbox",):  # what a report names about the scorer (code_exec: the sandbox it used)
        if hasattr(fn, attr):
            setattr(sync, attr, getattr(fn, attr))
    return sync


def as_async(fn: AnyScoreFn) -> AsyncScoreFn:
    """``fn`` as an async function (a sync one is called directly: scorers are quick and in-process)."""
    if is_async_scorer(fn):
        return cast(AsyncScoreFn, fn)
    sfn = cast(Callable[[Any, Sample], Score], fn)

    async def afn(output: Any, sample: Sample) -> Score:
        return sfn(output, sample)

    return afn
