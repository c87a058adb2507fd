"""Turn a sandbox :class:`~evalkit.sandbox.Execution` into a ``code_exec`` verdict that explains itself.

Classes (``Score.label``), the first that applies:

* ``sandbox_error`` — the sandbox itself failed (could not start, set up, or report): not the
  model's doing; ``meta.infrastructure`` is true so summaries can count it apart;
* ``timeout`` — the wall clock or the CPU limit ran out (the verdict names what was running);
* ``syntax_error`` — the code does not compile (line, message, the line's text);
* ``failed_assertion`` — an ``assert`` failed: the first failing one's source line and, with one
  unit per test (MBPP), how many failed (every test runs); HumanEval's ``check`` stops at its first;
* ``exception`` — anything else raised (type, message, line), ``exit()``/``os._exit`` before the
  tests finished, or the process killed by a signal;
* ``pass`` — every test ran and passed.

``no_code`` and ``bad_sample`` (a row without tests) are decided before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.sandbox import Execution, Status, Unit, UnitResult
from evalkit.scorers.code_extract import ExtractedCode
from evalkit.scorers.text import clip
from evalkit.types import Score

__all__ = ["CLASSES", "verdict"]

CLASSES = (
    "pass",
    "failed_assertion",
    "exception",
    "timeout",
    "syntax_error",
    "no_code",
    "sandbox_error",
    "bad_sample",
)


class _Program:
    """The units that were run, for naming places in words."""

    def __init__(self, units: Sequence[Unit]) -> None:
        self.units = list(units)
        self.tests = [u for u in units if u.kind == "test"]
        self.per_test = any(u.name.startswith("<test ") for u in self.tests)

    def unit(self, index: int | None) -> str:
        """A unit in words: "test 2 of 3", "the tests", "the code", "the test set-up"."""
        if index is None or not 0 <= index < len(self.units):
            return "the start-up"
        u = self.units[index]
        if u.kind == "test":
            if u.name.startswith("<test "):
                return f"test {u.name.strip('<>').split()[-1]} of {len(self.tests)}"
            return "the tests"
        return {"solution": "the code", "harness": "the tests"}.get(u.kind, "the test set-up")

    def place(self, r: UnitResult) -> str:
        """Where a failure happened: the unit whose line it was, the line's number and text."""
        src = f": `{r.source_line}`" if r.source_line else ""
        line = f"line {r.line} of " if r.line else ""
        if r.where == "<solution>":
            return f"{line}the code{src}"
        index = next((i for i, u in enumerate(self.units) if u.name == r.where), None)
        if index is None:
            return f"{r.where or 'an unknown place'}{src}"
        if self.units[index].kind == "test" and self.per_test:
            return f"{self.unit(index)}{src}"
        return f"{line}{self.unit(index)}{src}"


def verdict(exe: Execution, code: ExtractedCode, units: Sequence[Unit], answer: str) -> Score:
    """The verdict for ``exe``, the run of ``units`` built from ``code``; ``answer`` is the code shown."""
    prog = _Program(units)
    passed = sum(1 for t in exe.tests if t.ok)
    n = len(prog.tests)
    meta: dict[str, Any] = {
        "sandbox": exe.sandbox,
        "code_from": code.source,
        "duration_s": round(exe.duration_s, 3),
    }
    if prog.per_test:
        meta.update(tests_total=n, tests_passed=passed)
    tally = f" ({passed} of {n} tests had passed)" if prog.per_test else ""
    frm = f"code from {code.how}"
    if exe.status is Status.SANDBOX_ERROR:
        why = f"the sandbox failed, not the code: {clip(exe.detail, 400)}"
        return Score(0.0, answer, why, "sandbox_error", {**meta, "infrastructure": True})
    if exe.status is Status.TIMEOUT:
        limit = "wall-clock" if exe.timeout_kind == "wall" else "CPU-time"
        why = (
            f"timed out: the {limit} limit ran out while running {prog.unit(exe.last_started)}{tally}; {frm}"
        )
        return Score(0.0, answer, why, "timeout", {**meta, "timeout": exe.timeout_kind})
    failure = exe.first_failure
    if failure is not None:
        meta.update(error_type=failure.error_type, line=failure.line, where=failure.where)
        meta = {k: v for k, v in meta.items() if v is not None}
        if failure.syntax:
            why = f"{failure.error_type} at {prog.place(failure)}: {failure.message}; {frm}"
            return Score(0.0, answer, why, "syntax_error", meta)
        failed = [t for t in exe.tests if not t.ok]
        lead = (
            f"{len(failed)} of {n} tests failed; first: " if prog.per_test and failure.kind == "test" else ""
        )
        if failure.error_type == "AssertionError":
            what = (
                "an assert in the code itself failed" if failure.where == "<solution>" else "assertion failed"
            )
            msg = f" ({failure.message})" if failure.message else ""
            why = f"{lead}{what} at {prog.place(failure)}{msg}; {frm}"
            return Score(0.0, answer, why, "failed_assertion", meta)
        during = (
            f" in {prog.unit(failure.index)}"
            if failure.kind == "test" and failure.where == "<solution>"
            else ""
        )
        msg = f": {failure.message}" if failure.message else ""
        why = f"{lead}{failure.error_type}{during} at {prog.place(failure)}{msg}; {frm}"
        return Score(0.0, answer, why, "exception", meta)
    if exe.status is Status.COMPLETED:
        what = f"passed all {n} tests" if prog.per_test else "passed the tests"
        return Score(1.0, answer, f"{what} in {exe.duration_s:.2f} s; {frm}", "pass", meta)
    # ENDED: the process went away before the units finished (exit(), os._exit, a signal).
    meta.update(error_type=exe.exit_signal or "exit")
    if exe.exit_code is not None:
        meta["exit_code"] = exe.exit_code
    why = f"{exe.detail}, while running {prog.unit(exe.last_started)}{tally}; {frm}"
    return Score(0.0, answer, why, "exception", meta)
