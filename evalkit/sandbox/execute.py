"""Run one program in a backend, asynchronously, and read what happened into an :class:`Execution`.

The parent's side of the protocol: start the backend's command in a new session with the scrubbed
environment, hand the job to the child on stdin, read the child's JSON events from stdout (capped,
nonce-checked) while draining stderr (only the first ``output_kb`` kept), enforce the startup and
wall-clock deadlines, and kill the whole tree at the end, whatever happened (cancellation too).
Nothing here raises on anything the code does: every outcome is an :class:`Execution`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from evalkit.sandbox.backends import Backend, Launch
from evalkit.sandbox.spec import Execution, Limits, Status, Unit, UnitResult

__all__ = ["execute"]

_PROTOCOL_CAP = 1 << 20
"""Bytes of protocol read at most (the code can write to that pipe too; the rest is drained and dropped)."""
_MAX_LINE = 1 << 16
_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_CPU_SIGNALS = {"SIGXCPU"}


def clean_text(raw: bytes | str, limit: int) -> str:
    """Hostile output made safe to show: decoded, control characters dropped, clipped to ``limit``."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = _CTRL.sub("", text.replace("\r\n", "\n"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _drain(stream: asyncio.StreamReader | None, keep: int) -> bytes:
    """Read ``stream`` to EOF, keeping the first ``keep`` bytes."""
    if stream is None:
        return b""
    kept = bytearray()
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return bytes(kept)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]


async def _feed(stdin: asyncio.StreamWriter | None, data: bytes) -> None:
    if stdin is None:
        return
    with contextlib.suppress(OSError):
        stdin.write(data)
        await stdin.drain()
        stdin.close()


class _Protocol:
    """The child's events as they arrive."""

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        self.events: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        self.job_pid: int | None = None
        self.exited = False

    def _take(self, line: bytes) -> None:
        try:
            obj = json.loads(line)
        except ValueError:
            return
        if not isinstance(obj, dict) or obj.get("k") != self.nonce:
            return
        ev = obj.get("ev")
        self.events.append(obj)
        if ev in ("ready", "setup_error"):
            self.ready.set()
        elif ev == "job" and isinstance(obj.get("pid"), int) and self.job_pid is None:
            self.job_pid = obj["pid"]
        elif ev == "exit":
            self.exited = True

    async def read(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        buf = b""
        total = 0
        while not self.exited:
            chunk = await stream.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if total > _PROTOCOL_CAP:
                continue
            buf += chunk
            while b"\n" in buf and not self.exited:
                line, buf = buf.split(b"\n", 1)
                self._take(line)
            if len(buf) > _MAX_LINE:
                buf = b""
        self.ready.set()


async def execute(backend: Backend, units: Sequence[Unit], limits: Limits, *, nice: int = 0) -> Execution:
    """Run ``units`` in a fresh sandbox of ``backend`` and report what happened (never raises on the code)."""
    nonce = secrets.token_hex(16)
    workdir = tempfile.mkdtemp(prefix="evalkit-sandbox-")
    started = time.monotonic()
    try:
        try:
            launch = backend.launch(workdir, limits, nonce)
        except OSError as exc:
            return _error(backend, f"could not prepare the sandbox: {exc}", started)
        job = {
            **launch.job,
            "nonce": nonce,
            "limits": limits.to_child(),
            "nice": nice,
            "units": [{"name": u.name, "source": u.source, "kind": u.kind} for u in units],
        }
        return await _run(backend, launch, job, units, limits, started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _run(
    backend: Backend,
    launch: Launch,
    job: dict[str, Any],
    units: Sequence[Unit],
    limits: Limits,
    started: float,
) -> Execution:
    try:
        proc = await asyncio.create_subprocess_exec(
            *launch.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=launch.env,
            cwd=launch.cwd,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return _error(backend, f"could not start {launch.argv[0]}: {exc}", started)
    proto = _Protocol(job["nonce"])
    reader = asyncio.create_task(proto.read(proc.stdout))
    output = asyncio.create_task(_drain(proc.stderr, limits.output_kb * 1024))
    feeder = asyncio.create_task(_feed(proc.stdin, json.dumps(job).encode()))
    timeout_kind: str | None = None
    try:
        try:
            # A child that never reads its job must not hang us: the start-up deadline covers the feed.
            await asyncio.wait_for(proto.ready.wait(), limits.startup_s)
        except TimeoutError:
            timeout_kind = "startup"
        if timeout_kind is None:
            try:
                await asyncio.wait_for(asyncio.shield(reader), limits.timeout_s)
            except TimeoutError:
                timeout_kind = "wall"
    finally:
        # Whatever happened (cancellation included): nothing of the sample outlives this call.
        if proto.exited and timeout_kind is None:
            # The init reported and is exiting on its own; its namespace (or group) goes with it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 2)
        if proc.returncode is None:
            backend.kill(launch, proc.pid, proto.job_pid, proto.exited)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        reader.cancel()
        feeder.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(output), 0.5)
        output.cancel()
        # A leftover that still holds a pipe would keep the transport (and its fds) open: close it.
        transport = getattr(proc, "_transport", None)
        if transport is not None:
            transport.close()
        await backend.cleanup(launch)
    raw_output = output.result() if output.done() and not output.cancelled() else b""
    return _outcome(
        backend, proto, units, limits, timeout_kind, started, clean_text(raw_output, limits.output_kb * 1024)
    )


def _error(backend: Backend, detail: str, started: float, output: str = "") -> Execution:
    return Execution(
        Status.SANDBOX_ERROR,
        backend.name,
        detail=detail,
        duration_s=time.monotonic() - started,
        output=output,
    )


def _unit_result(ev: dict[str, Any], units: Sequence[Unit]) -> UnitResult | None:
    i = ev.get("i")
    if not isinstance(i, int) or not 0 <= i < len(units):
        return None

    def s(key: str, n: int = 300) -> str | None:
        v = ev.get(key)
        return clean_text(v, n) if isinstance(v, str) else None

    line = ev.get("line")
    return UnitResult(
        i,
        units[i].name,
        units[i].kind,
        ok=ev.get("ok") is True,
        syntax=ev.get("syntax") is True,
        error_type=s("type", 80),
        message=s("msg"),
        where=s("where", 80),
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
        source_line=s("src"),
    )


def _outcome(
    backend: Backend,
    proto: _Protocol,
    units: Sequence[Unit],
    limits: Limits,
    timeout_kind: str | None,
    started: float,
    output: str,
) -> Execution:
    duration = time.monotonic() - started
    by_ev: dict[str, dict[str, Any]] = {}
    results: list[UnitResult] = []
    last_started: int | None = None
    for ev in proto.events:
        name = ev.get("ev")
        if name == "unit":
            r = _unit_result(ev, units)
            if r is not None:
                results.append(r)
        elif name == "start" and isinstance(ev.get("i"), int):
            last_started = ev["i"]
        elif isinstance(name, str):
            by_ev.setdefault(name, ev)
    if "setup_error" in by_ev:
        e = by_ev["setup_error"]
        return _error(
            backend, f"could not set the sandbox up: {e.get('type')}: {e.get('msg')}", started, output
        )
    if "ready" not in by_ev:
        why = (
            f"the sandbox was not ready within {limits.startup_s:g} s"
            if timeout_kind == "startup"
            else "the sandbox ended before it was ready"
        )
        return _error(backend, f"{why}: {output.strip()[-300:] or 'no output'}", started, output)
    facts = by_ev["ready"].get("facts")
    exit_ev = by_ev.get("exit", {})
    common: dict[str, Any] = {
        "units": tuple(results),
        "n_units": len(units),
        "last_started": last_started,
        "exit_code": exit_ev.get("code") if isinstance(exit_ev.get("code"), int) else None,
        "exit_signal": exit_ev.get("signal") if isinstance(exit_ev.get("signal"), str) else None,
        "duration_s": duration,
        "cpu_s": exit_ev.get("cpu_s") if isinstance(exit_ev.get("cpu_s"), int | float) else None,
        "max_rss_kb": exit_ev.get("maxrss_kb") if isinstance(exit_ev.get("maxrss_kb"), int) else None,
        "output": output,
        "facts": facts if isinstance(facts, dict) else {},
    }
    if "job_error" in by_ev and last_started is None:
        e = by_ev["job_error"]
        return _error(
            backend, f"the sandbox could not start the code: {e.get('type')}: {e.get('msg')}", started, output
        )
    if timeout_kind == "wall":
        return Execution(Status.TIMEOUT, backend.name, timeout_kind="wall", **common)
    sig = common["exit_signal"]
    cpu = common["cpu_s"]
    if sig in _CPU_SIGNALS or (sig == "SIGKILL" and cpu is not None and cpu >= limits.cpu_limit_s - 0.05):
        return Execution(Status.TIMEOUT, backend.name, timeout_kind="cpu", **common)
    if "done" in by_ev:
        return Execution(Status.COMPLETED, backend.name, **common)
    failed = next((r for r in results if not r.ok and r.kind != "test"), None)
    if failed is not None:
        return Execution(Status.FAILED, backend.name, **common)
    if sig is not None:
        detail = f"the code's process was killed by {sig}"
    elif common["exit_code"] is not None:
        detail = f"the code's process exited with code {common['exit_code']} before the tests finished"
    elif "job_error" in by_ev:
        e = by_ev["job_error"]
        detail = f"the code broke the harness: {e.get('type')}: {clean_text(str(e.get('msg')), 200)}"
    else:
        detail = "the sandbox ended without reporting how the code ended"
    return Execution(Status.ENDED, backend.name, detail=detail, **common)


def cpu_count() -> int:
    """Cores this process may use (the default ``max_parallel``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
