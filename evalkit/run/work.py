"""The run's pending cells, found in one pass: :func:`scan` renders every sample once (which is also the
check that every template variable exists, before any request), computes each pending cell's cache
key, and asks the cache which of them it holds, a few hundred keys per query. The result,
:class:`Work`, holds only the keys of the cache hits and one byte per pending cell, never a rendered
prompt or a result, so a 100,000-sample run plans in a few megabytes. :func:`set_aside_recorded` takes
the replayed models' cells out of it (they are answered from their recordings, never sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from evalkit.config.prompt import Renderer
from evalkit.run.cache import KeyMaker, ResponseCache
from evalkit.run.plan import ModelPlan
from evalkit.rundir.ledger import Cell
from evalkit.rundir.shard import Shard
from evalkit.types import Sample

__all__ = ["SCAN_CHUNK", "Work", "scan", "set_aside_recorded"]

SCAN_CHUNK = 512
"""Samples rendered per cache query batch."""


@dataclass
class Work:
    """The run's pending cells, split into cache hits (replayed without the network) and cells to send."""

    epochs: int
    n_samples: int
    hits: list[tuple[int, int, int, str]] = field(default_factory=list)
    """(plan index, epoch, sample index, cache key) of each pending cell the cache holds."""
    todo: list[list[bytearray]] = field(default_factory=list)
    """``todo[plan][epoch][sample]`` is 1 for a cell to send."""

    def send_count(self, plan_index: int) -> int:
        return sum(row.count(1) for row in self.todo[plan_index])

    def cells_to_send(self, plan_index: int) -> Iterator[tuple[int, int]]:
        """(sample index, epoch) of the model's cells to send, epoch by epoch in sample order."""
        for e, row in enumerate(self.todo[plan_index]):
            i = row.find(1)
            while i != -1:
                if row[i]:  # a cell may be taken off (sent elsewhere) while this iterates
                    yield i, e
                i = row.find(1, i + 1)

    def mark_to_send(self, plan_index: int, epoch: int, sample_index: int) -> None:
        self.todo[plan_index][epoch][sample_index] = 1


def scan(
    samples: list[Sample],
    renderer: Renderer,
    plans: list[ModelPlan],
    epochs: int,
    done: set[Cell],
    cache: ResponseCache | None,
    shard: Shard | None = None,
) -> Work:
    """Render every sample once (raising :class:`ConfigError` for a missing template variable) and sort
    the pending cells of ``plans`` into cache hits and cells to send. With ``shard``, every sample is
    still rendered (the same check in every shard) but only the shard's samples get cells."""
    n = len(samples)
    work = Work(epochs=epochs, n_samples=n, todo=[[bytearray(n) for _ in range(epochs)] for _ in plans])
    keyers = [KeyMaker(p.identity_model, p.identity_base, p.params) for p in plans]
    names = [p.name for p in plans]
    for start in range(0, n, SCAN_CHUNK):
        batch: list[tuple[int, int, int, str]] = []
        for si in range(start, min(n, start + SCAN_CHUNK)):
            sample = samples[si]
            messages = renderer.render(sample)  # every sample, even when no model runs: the template check
            if not plans or (shard is not None and not shard.owns(sample.id)):
                continue
            canonical = KeyMaker.messages_json(messages) if cache is not None else ""
            for pi, name in enumerate(names):
                for e in range(epochs):
                    if done and (sample.id, name, e) in done:
                        continue
                    if cache is None:
                        work.todo[pi][e][si] = 1
                    else:
                        batch.append((pi, e, si, keyers[pi].key(canonical, e)))
        if batch and cache is not None:
            held = cache.present([k for *_, k in batch])
            for cell in batch:
                if cell[3] in held:
                    work.hits.append(cell)
                else:
                    work.todo[cell[0]][cell[1]][cell[2]] = 1
    return work


def set_aside_recorded(work: Work, replayed: set[int]) -> dict[int, list[bytearray]]:
    """Take the replayed models' pending cells out of ``work`` (nothing of theirs is sent or read from
    the cache): plan index -> ``todo[epoch][sample]`` of the cells to answer from the recording."""
    taken: dict[int, list[bytearray]] = {}
    for i in replayed:
        taken[i], work.todo[i] = work.todo[i], [bytearray(work.n_samples) for _ in range(work.epochs)]
    kept = []
    for hit in work.hits:
        pi, epoch, si, _key = hit
        if pi in taken:
            taken[pi][epoch][si] = 1
        else:
            kept.append(hit)
    work.hits = kept
    return taken
