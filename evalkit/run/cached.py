"""Cache hits: the pending cells the scan found in the response cache, landed without the network, a
few hundred per cache query (:func:`write_cache_hits`). An entry found corrupt goes back to the cells
to send."""

from __future__ import annotations

from evalkit.run.cache import ResponseCache
from evalkit.run.recorder import RECORD_CHUNK, Landing, Recorder
from evalkit.run.work import Work
from evalkit.types import Sample

__all__ = ["write_cache_hits"]


async def write_cache_hits(
    work: Work, cache: ResponseCache, recorder: Recorder, samples: list[Sample]
) -> None:
    """Land every cache hit of ``work`` (emptying ``work.hits``)."""
    hits, work.hits = work.hits, []
    for start in range(0, len(hits), RECORD_CHUNK):
        chunk = hits[start : start + RECORD_CHUNK]
        found = cache.get_many(k for *_, k in chunk)
        landings = []
        for pi, epoch, si, key in chunk:
            completion = found.get(key)
            if completion is None:
                work.mark_to_send(pi, epoch, si)
                continue
            landings.append(Landing(pi, samples[si], epoch, completion, key))
        if landings:
            await recorder.record_many(landings, source="cached")
