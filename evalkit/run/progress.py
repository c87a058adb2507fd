"""The progress display: per model done/total, errors, spend so far and ETA (rich).

On a terminal it is a live bar; elsewhere (CI logs, pipes) it prints one line per model
each time another tenth of its requests is done, so a slow offline run still says how
long it will take.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RunProgress:
    def __init__(self, models: list[tuple[str, int]], *, enabled: bool, echo: Callable[[str], None]) -> None:
        self.console = Console(stderr=True)
        self.live = enabled and self.console.is_terminal
        self.echo = echo
        self.enabled = enabled
        self.totals = dict(models)
        self.done = dict.fromkeys(self.totals, 0)
        self.errors = dict.fromkeys(self.totals, 0)
        self.spent = dict.fromkeys(self.totals, 0.0)
        self.priced = dict.fromkeys(self.totals, False)
        self.started = time.monotonic()
        self.first_done = dict.fromkeys(self.totals, 0)
        self._next_report = {m: 0.1 for m in self.totals}
        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("errors {task.fields[errors]}"),
            TextColumn("spent {task.fields[spent]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.live,
            refresh_per_second=4,
        )
        self._tasks: dict[str, TaskID] = {
            m: self._progress.add_task(m, total=n, errors=0, spent="unknown") for m, n in models
        }

    def __enter__(self) -> RunProgress:
        self.started = time.monotonic()
        self._progress.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(et, ev, tb)

    def advance(self, model: str, n: int, *, errors: int, cost: float | None, initial: bool = False) -> None:
        self.done[model] += n
        self.errors[model] += errors
        if cost is not None:
            self.spent[model] += cost
            self.priced[model] = True
        if initial:
            self.first_done[model] = self.done[model]
        self._progress.update(
            self._tasks[model],
            completed=self.done[model],
            errors=self.errors[model],
            spent=self._spent(model),
        )
        if self.enabled and not self.live and not initial:
            self._report_line(model)

    def _spent(self, model: str) -> str:
        """Money sent this run; 'unknown' until a priced answer arrives (never a made-up $0)."""
        return f"${self.spent[model]:.4f}" if self.priced[model] else "unknown"

    def _report_line(self, model: str) -> None:
        total = self.totals[model]
        frac = self.done[model] / total if total else 1.0
        if frac + 1e-9 < self._next_report[model] and self.done[model] != total:
            return
        while self._next_report[model] <= frac:
            self._next_report[model] += 0.1
        elapsed = time.monotonic() - self.started
        fresh = self.done[model] - self.first_done[model]
        eta = elapsed / fresh * (total - self.done[model]) if fresh else 0.0
        self.echo(
            f"  {model}: {self.done[model]}/{total} ({frac:.0%}), errors {self.errors[model]}, "
            f"spent {self._spent(model)}, elapsed {elapsed:.0f}s, ETA {eta:.0f}s"
        )
