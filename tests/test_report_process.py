"""The report process: forked before LiteLLM's import, it writes the same report the run would have,
and when it cannot, the run writes it itself; it never outlives its run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import evalkit.report
from evalkit.cli import main
from evalkit.report.process import ReportProcess
from evalkit.testing.server import TestServer
from tests.test_perf_pool import N, _answer, _suite

REPORT_FILES = ("summary.json", "summary.csv", "gaps.csv", "samples.csv", "junit.xml", "summary.md")


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # exited (a zombie waits for whoever adopted it)


@pytest.fixture
def spy(monkeypatch):
    """Each :meth:`ReportProcess.write` outcome, in order."""
    outcomes: list[bool] = []
    real = ReportProcess.write

    def write(self: ReportProcess, run_dir: Path) -> bool:
        outcomes.append(real(self, run_dir))
        return outcomes[-1]

    monkeypatch.setattr(ReportProcess, "write", write)
    return outcomes


def _run_with_workers(make_suite, monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("EVALKIT_WORKERS", "2")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step-summary.md"))
    with TestServer(responder=_answer) as srv:
        assert main(["run", str(_suite(make_suite, srv)), "--no-progress", "--no-cache"]) == 0
        assert srv.stats.total == 2 * N
    return tmp_path / "step-summary.md"


def test_the_report_process_writes_what_the_run_would_have(
    make_suite, results_dir, monkeypatch, tmp_path, spy
):
    step_summary = _run_with_workers(make_suite, monkeypatch, tmp_path)
    assert spy == [True]  # the child wrote it
    (run_dir,) = results_dir.glob("*/*")
    written = {name: (run_dir / name).read_bytes() for name in REPORT_FILES}
    assert (run_dir / "report.html").stat().st_size > 0
    assert json.loads(written["summary.json"])["models"]
    # Written again in this process, the files are the same bytes.
    evalkit.report.write_report(run_dir, step_summary=False)
    assert {name: (run_dir / name).read_bytes() for name in REPORT_FILES} == written
    # summary.md went to the job summary once.
    assert step_summary.read_text(encoding="utf-8") == written["summary.md"].decode()


def test_when_the_report_process_fails_the_run_writes_the_report(
    make_suite, results_dir, monkeypatch, tmp_path, spy
):
    parent = os.getpid()
    real = evalkit.report.write_report

    def fails_in_the_child(run_dir, **kw):
        if os.getpid() != parent:
            (Path(run_dir) / "summary.json").write_text("half-written")
            raise OSError("disk full (simulated in the report process)")
        return real(run_dir, **kw)

    monkeypatch.setattr(evalkit.report, "write_report", fails_in_the_child)  # the fork inherits it
    step_summary = _run_with_workers(make_suite, monkeypatch, tmp_path)
    assert spy == [False]
    (run_dir,) = results_dir.glob("*/*")
    assert json.loads((run_dir / "summary.json").read_text())["models"]  # rewritten whole
    md = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert step_summary.read_text(encoding="utf-8") == md  # appended once, by the run


def test_a_cancelled_report_process_leaves_and_writes_nothing(tmp_path):
    proc = ReportProcess.start()
    assert proc is not None
    proc.cancel()
    assert _gone(proc.pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)  # already reaped
    proc.cancel()  # idempotent
    assert proc.write(tmp_path) is False
    assert list(tmp_path.iterdir()) == []


def test_a_report_process_given_a_broken_run_folder_says_so(tmp_path):
    proc = ReportProcess.start()
    assert proc is not None
    assert proc.write(tmp_path / "no-such-run") is False  # the caller then raises the real error
    assert _gone(proc.pid)


def test_the_report_process_does_not_outlive_a_killed_run(tmp_path):
    script = (
        "import os, signal, sys\n"
        "from evalkit.report.process import ReportProcess\n"
        "p = ReportProcess.start()\n"
        "print(p.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == -signal.SIGKILL
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), f"report process {child} outlived its killed parent"
