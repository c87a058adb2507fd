"""Worker processes for the network fan-out: each runs its own event loop and LiteLLM; the parent keeps the policy.

LiteLLM spends about 5 ms of CPU on every call (building the request, parsing the answer into
its response object, pricing and logging it), so one Python process saturates one core at
roughly 200 requests a second, whatever the concurrency. :class:`WorkerPool` forks N workers once
LiteLLM is imported (copy-on-write: each starts in milliseconds, not the 1.5 s of an import),
each connected to the parent by a socket pair. The parent sends one *attempt* at a time (a
:class:`~evalkit.providers.Call`) to the worker with the fewest attempts in flight; the worker
runs :func:`~evalkit.providers.litellm.attempt` -- one ``litellm.acompletion`` -- and sends back the
:class:`~evalkit.providers.Attempt`.

Everything with state stays in the parent, so it works exactly as without workers: retries and
back-off, the adaptive limiter, the budget, the response cache, scoring, the single ledger,
resume. A worker never opens the cache or the run folder.

Frames are a 4-byte big-endian length and a pickle of ``(id, payload)``, between a parent and
the children it forked itself. A worker ignores SIGINT (Ctrl+C is the parent's to handle) and
leaves at once with ``os._exit`` when the parent's end of its socket closes -- which the kernel
does when the parent is killed, even by ``kill -9`` -- so no worker outlives its run. A worker
that dies fails its attempts in flight as connection errors (the policy retries them on another
worker); with none left, attempts run in the parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import pickle
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from evalkit.providers.litellm import Attempt, Call, attempt, litellm_module
from evalkit.types import ErrorInfo, ErrorKind

__all__ = ["WorkerPool", "cpu_cores", "pool_size"]

_HEADER = 4
MAX_WORKERS = 8


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def pool_size(requested: int | None, *, cores: int, in_flight: int, to_send: int) -> int:
    """How many worker processes a run uses.

    ``requested`` (``RunOptions.workers``), else ``$EVALKIT_WORKERS``, wins. Otherwise: none on one
    core, for fewer than 32 requests in flight or fewer than 256 to send (one process keeps up);
    else one per core, at most :data:`MAX_WORKERS`.
    """
    if requested is None:
        env = os.environ.get("EVALKIT_WORKERS", "").strip()
        if env:
            try:
                requested = max(0, int(env))
            except ValueError:
                requested = None
    if not hasattr(os, "fork"):
        return 0
    if requested is not None:
        return min(requested, 64)
    if cores < 2 or in_flight < 32 or to_send < 256:
        return 0
    return min(cores, MAX_WORKERS)


class _Frames(asyncio.Protocol):
    """Length-prefixed pickles over a stream; calls ``on_frame`` for each and ``on_lost`` at EOF."""

    def __init__(self, on_frame: Callable[[Any], None], on_lost: Callable[[], None]) -> None:
        self._buf = bytearray()
        self._on_frame = on_frame
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        start = 0
        while len(buf) - start >= _HEADER:
            size = int.from_bytes(buf[start : start + _HEADER], "big")
            end = start + _HEADER + size
            if len(buf) < end:
                break
            frame = pickle.loads(buf[start + _HEADER : end])
            start = end
            self._on_frame(frame)
        if start:
            del buf[:start]

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost()

    def send(self, obj: Any) -> None:
        assert self.transport is not None
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.transport.write(len(data).to_bytes(_HEADER, "big") + data)


class _Worker:
    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        self.frames: _Frames | None = None
        self.pending: dict[int, asyncio.Future[Attempt]] = {}
        self.alive = True
        self.sent = 0


class WorkerPool:
    """``n`` forked workers. :meth:`start` before any event loop or thread; :meth:`open` inside the loop."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._workers: list[_Worker] = []
        self._ids = itertools.count()
        self.lost = 0
        """Workers that died during the run."""
        self.cpu_s: list[float] = []
        """CPU seconds (user + system) of each worker, once :meth:`close` has reaped them."""

    @property
    def sent(self) -> list[int]:
        """Attempts each worker was given."""
        return [w.sent for w in self._workers]

    def start(self) -> WorkerPool:
        """Import LiteLLM once, then fork the workers (they share the import, copy-on-write)."""
        litellm_module()
        for _ in range(self.n):
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the worker: never returns into the caller's code
                code = 1
                try:
                    parent_end.close()
                    for w in self._workers:
                        w.sock.close()
                    _worker_main(child_end)
                    code = 0
                finally:
                    os._exit(code)
            child_end.close()
            self._workers.append(_Worker(pid, parent_end))
        return self

    async def open(self) -> None:
        """Attach the sockets to the running event loop (:meth:`detach` before the loop ends)."""
        loop = asyncio.get_running_loop()
        for w in self._workers:
            _, w.frames = await loop.connect_accepted_socket(
                functools.partial(self._protocol, w), sock=w.sock
            )

    def _protocol(self, w: _Worker) -> _Frames:
        return _Frames(functools.partial(self._answer, w), functools.partial(self._lost, w))

    def _answer(self, w: _Worker, frame: tuple[int, Attempt]) -> None:
        fut = w.pending.pop(frame[0], None)
        if fut is not None and not fut.done():
            fut.set_result(frame[1])

    def _lost(self, w: _Worker) -> None:
        if w.alive:
            w.alive = False
            self.lost += 1
        for fut in w.pending.values():
            if not fut.done():
                fut.set_result(
                    Attempt(error=ErrorInfo(ErrorKind.CONNECTION, f"evalkit worker process {w.pid} died"))
                )
        w.pending.clear()

    async def send(self, call: Call) -> Attempt:
        """Run one attempt on the least busy worker (in this process if none is left)."""
        live = [w for w in self._workers if w.alive and w.frames is not None]
        if not live:
            return await attempt(call)
        w = min(live, key=lambda w: len(w.pending))
        ident = next(self._ids)
        fut: asyncio.Future[Attempt] = asyncio.get_running_loop().create_future()
        w.pending[ident] = fut
        w.sent += 1
        assert w.frames is not None
        w.frames.send((ident, call))
        try:
            return await fut
        finally:
            w.pending.pop(ident, None)

    def detach(self) -> None:
        """Close the parent's ends from inside the event loop (each worker then exits at once)."""
        for w in self._workers:
            w.alive = False
            if w.frames is not None and w.frames.transport is not None:
                w.frames.transport.abort()
                w.frames = None

    def close(self, timeout_s: float = 5.0) -> None:
        """Close the sockets (each worker exits on EOF) and reap the workers; SIGKILL any that lingers."""
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.sock.close()
        deadline = time.monotonic() + timeout_s
        for w in self._workers:
            while True:
                try:
                    pid, _, usage = os.wait4(w.pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid:
                    self.cpu_s.append(usage.ru_utime + usage.ru_stime)
                    break
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(w.pid, signal.SIGKILL)
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(w.pid, 0)
                    break
                time.sleep(0.005)
        self._workers.clear()


# ---------------------------------------------------------------------------------------------- the worker


def _worker_main(sock: socket.socket) -> None:
    signal.signal(
        signal.SIGINT, signal.SIG_IGN
    )  # Ctrl+C reaches the whole process group: the parent handles it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    asyncio.run(_serve(sock))


async def _serve(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    frames: _Frames | None = None

    async def run_one(ident: int, call: Call) -> None:
        try:
            out = await attempt(call)
        except (
            Exception
        ) as exc:  # attempt() turns provider failures into data; this is a bug: keep it data too
            out = Attempt(error=ErrorInfo(ErrorKind.UNKNOWN, f"evalkit worker: {type(exc).__name__}: {exc}"))
        assert frames is not None
        frames.send((ident, out))

    def on_frame(frame: tuple[int, Call]) -> None:
        task = loop.create_task(run_one(*frame))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def on_lost() -> None:
        os._exit(0)  # the parent is gone (or done): abandon whatever is in flight

    _, frames = await loop.connect_accepted_socket(lambda: _Frames(on_frame, on_lost), sock=sock)
    await asyncio.Event().wait()  # until on_lost
