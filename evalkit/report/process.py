"""The report writer, forked before LiteLLM is imported: it loads on the core the import leaves idle.

A network run with worker processes (:mod:`evalkit.providers.pool`) starts by importing LiteLLM, which
keeps one core busy for about 2.5 s while the other idles; importing the report writer (pandas,
SciPy, Jinja2: about 1.8 s of CPU) used to happen afterwards, in a thread of the process that
drives the fan-out, where it took CPU from the workers and the GIL from the event loop.
:meth:`ReportProcess.start` forks a child first; the child imports :mod:`evalkit.report` at once,
in parallel with the parent's LiteLLM import, and then waits. :meth:`ReportProcess.write` hands it
the run folder when the run is over (run.json already final), and the child writes the report,
exactly as :func:`evalkit.report.write_report` does in process, appending summary.md to
``$GITHUB_STEP_SUMMARY`` as its very last step.

If the child fails or dies, :meth:`write` says so and the caller writes the report itself, so
the outcome (files, or the error a broken run folder raises) is the same as without it. The
child ignores SIGINT (Ctrl+C is the parent's to handle) and leaves with ``os._exit`` -- never
running the parent's cleanup -- when told to, or at once when the parent's end of the pipe
closes (the kernel closes it when the parent dies, even by ``kill -9``).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

__all__ = ["ReportProcess"]

_CANCEL = b"\n"


class ReportProcess:
    """A forked child that imports the report writer now and writes one run's report later."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd = fd
        self._open = True

    @classmethod
    def start(cls) -> ReportProcess | None:
        """Fork the child (None where ``os.fork`` does not exist). Call before LiteLLM is imported and
        before any thread starts."""
        if not hasattr(os, "fork"):
            return None
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller's code
            code = 1
            try:
                os.close(write_end)
                code = _child_main(read_end)
            finally:
                os._exit(code)
        os.close(read_end)
        return cls(pid, write_end)

    def write(self, run_dir: Path) -> bool:
        """Have the child write ``run_dir``'s report and wait for it; False if it did not (the caller
        then writes it in process)."""
        if not self._open:
            return False
        with contextlib.suppress(OSError):  # the child is gone: reaping says so
            os.write(self._fd, os.fsencode(str(run_dir)) + b"\n")
        self._close_pipe()
        return self._reap() == 0

    def cancel(self) -> None:
        """Let the child go without writing anything (an interrupted run, an error); idempotent."""
        if not self._open:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, _CANCEL)
        self._close_pipe()
        self._reap()

    def _close_pipe(self) -> None:
        self._open = False
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def _reap(self) -> int | None:
        """The child's exit status (None if it was killed by a signal)."""
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None


def _child_main(fd: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group: the parent's
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import evalkit.report  # the point of this process: loaded while the parent imports LiteLLM
    except Exception:
        return 1  # the parent writes the report, and shows the error
    line = _read_line(fd)
    if not line:
        return 0  # cancelled, or the parent is gone
    run_dir = Path(os.fsdecode(line))
    try:
        evalkit.report.write_report(run_dir, step_summary=False)
        # Last, so a failure anywhere before leaves nothing appended and the parent's retry appends once.
        from evalkit.report.markdown import append_step_summary

        append_step_summary((run_dir / evalkit.report.SUMMARY_MD).read_text(encoding="utf-8"))
    except Exception:
        return 1
    return 0


def _read_line(fd: int) -> bytes:
    """Up to the first newline (without it); what came before EOF when the writer closed first."""
    buf = bytearray()
    while True:
        try:
            chunk = os.read(fd, 4096)
        except InterruptedError:
            continue
        if not chunk:
            return b""  # EOF without a newline: the parent is gone
        buf += chunk
        end = buf.find(b"\n")
        if end != -1:
            return bytes(buf[:end])
