"""Process helpers for the benchmark: the loopback server in its own process, and measuring a command.

:class:`ServerProc` runs ``python -m evalkit.testing`` in a separate process (so its CPU is
its own, read from ``/proc``) and reads its stats over HTTP. :func:`measure` runs a command and
reports its wall time, CPU seconds (user + system, including every child it waited for, e.g.
evalkit's worker processes) and peak RSS, summed over the whole process tree by sampling ``/proc``
every 20 ms (``ru_maxrss`` is reported too: the largest single process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = (
    str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
)
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a live process (its own threads; not its children)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, summed."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as f:
                total += int(f.read().split()[1]) * _PAGE
        except OSError:
            continue
        stack += _children(p)
    return total


def tree_pss_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants: pages shared between them (a forked
    worker and its parent) are counted once overall, not once per process as in RSS."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
        stack += _children(p)
    return total


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    """Summed over the process tree (sampled every 20 ms)."""
    maxrss_mib: float
    """``ru_maxrss``: the largest single process of the tree."""
    peak_pss_mib: float
    """Summed proportional set size (shared pages counted once), sampled every 100 ms."""
    returncode: int
    stdout: str
    stderr: str
    machine_busy_s: float
    """CPU seconds the whole machine was busy during the command (ours, the server's and anything else)."""


def measure(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 1800) -> Measured:
    busy0 = machine_busy_s()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT)
    )
    peak = peak_pss = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss
        tick = 0
        while not stop.is_set():
            peak = max(peak, tree_rss_bytes(proc.pid))
            if tick % 5 == 0:
                peak_pss = max(peak_pss, tree_pss_bytes(proc.pid))
            tick += 1
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    busy = machine_busy_s() - busy0
    stop.set()
    sampler.join()
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall_s=wall,
        cpu_s=ru.ru_utime + ru.ru_stime,
        peak_rss_mib=peak / 2**20,
        maxrss_mib=ru.ru_maxrss / 1024,
        peak_pss_mib=peak_pss / 2**20,
        returncode=proc.returncode,
        stdout="".join(out_chunks),
        stderr="".join(err_chunks),
        machine_busy_s=busy,
    )


class ServerProc:
    """``python -m evalkit.testing`` in its own process."""

    def __init__(
        self,
        *,
        latency: float,
        rate_limit: int | None = None,
        rate_window_s: float | None = None,
        retry_after_ms: bool = True,
    ) -> None:
        cmd = [PYTHON, "-m", "evalkit.testing", "--port", "0", "--latency", str(latency)]
        if rate_limit is not None:
            cmd += ["--rate-limit", str(rate_limit)]
        if rate_window_s is not None:
            cmd += ["--rate-window", str(rate_window_s)]
        if not retry_after_ms:
            cmd.append("--no-retry-after-ms")
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=str(ROOT)
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError(f"the test server did not start: {self.url!r}")
        self.openai_base = self.url + "/v1"

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/_evalkit/stats", timeout=30) as r:
            data: dict[str, Any] = json.loads(r.read())
        data.pop("bodies", None)
        data.pop("headers", None)
        return data

    def reset(self) -> None:
        req = urllib.request.Request(self.url + "/_evalkit/reset", data=b"{}", method="POST")
        with urllib.request.urlopen(req, timeout=30):
            pass

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> ServerProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
