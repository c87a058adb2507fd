"""``code_exec``: the verdict-class breakdown, the sandbox that ran, and (with sample ids) pass@k.

Reads only ``Score.label`` and ``Score.meta`` (``sandbox``, ``infrastructure``, ``error_type``,
``timeout``, ``tests_total``/``tests_passed``, ``duration_s``), never the explanation.

* ``class_counts`` in the order of :data:`CLASSES` (pass, failed_assertion, exception, timeout,
  syntax_error, no_code, sandbox_error, bad_sample);
* ``pass_rate`` (pass / n) and ``pass_rate_excluding_sandbox_errors`` (the same without the rows
  the sandbox failed on: an infrastructure problem, not the model's);
* ``sandboxes`` (name -> rows) and ``sandbox`` (the one name when a single sandbox ran every row,
  for the report's "sandbox used" line);
* ``error_types`` (the ten most common exception types), ``timeouts`` (wall / cpu);
* ``test_pass_rate`` over the tests of MBPP-style rows (each assert is a test), ``None`` without any;
* ``mean_duration_s`` / ``max_duration_s`` of the sandboxed runs;
* ``pass_at_k``: when verdicts come with their sample id (the run's summaries always give it), pass@1 and pass@k for k = the fewest epochs any sample has, with
  bootstrap intervals over samples (:mod:`evalkit.stats.passk`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict
from typing import Any

from evalkit.scorers.metrics.base import Accumulator, ratio
from evalkit.stats.passk import pass_at_k_table
from evalkit.types import Score

__all__ = ["CLASSES", "CodeExecAccumulator"]

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
_MAX_KEYS = 50


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


class CodeExecAccumulator(Accumulator):
    kind = "code_exec"
    classes = CLASSES

    def __init__(self) -> None:
        super().__init__()
        self.sandboxes: Counter[str] = Counter()
        self.error_types: Counter[str] = Counter()
        self.timeouts: Counter[str] = Counter()
        self.infrastructure = 0
        self.tests_total = 0
        self.tests_passed = 0
        self.durations = 0.0
        self.n_timed = 0
        self.max_duration = 0.0
        self.per_sample: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    @staticmethod
    def _bump(counter: Counter[str], key: Any) -> None:
        if isinstance(key, str) and (key in counter or len(counter) < _MAX_KEYS):
            counter[key] += 1

    def add(self, expected: Any, score: Score, sample_id: str | None = None) -> None:
        super().add(expected, score, sample_id)
        meta = score.meta
        self._bump(self.sandboxes, meta.get("sandbox"))
        if meta.get("infrastructure") is True or score.label == "sandbox_error":
            self.infrastructure += 1
        if score.label in ("exception", "failed_assertion", "syntax_error"):
            self._bump(self.error_types, meta.get("error_type"))
        if score.label == "timeout":
            self._bump(self.timeouts, meta.get("timeout") or "unknown")
        total, passed = _int(meta.get("tests_total")), _int(meta.get("tests_passed"))
        if total is not None and passed is not None and passed <= total:
            self.tests_total += total
            self.tests_passed += passed
        d = meta.get("duration_s")
        if isinstance(d, int | float) and not isinstance(d, bool) and d >= 0:
            self.durations += float(d)
            self.n_timed += 1
            self.max_duration = max(self.max_duration, float(d))
        if sample_id is not None:  # which sample this verdict is an epoch of: pass@k
            counts = self.per_sample[sample_id]
            counts[0] += 1
            counts[1] += 1 if score.label == "pass" else 0

    def add_sample(self, sample_id: str, score: Score) -> None:
        """Count one verdict and remember which sample it is an epoch of (for pass@k)."""
        self.add(None, score, sample_id)

    def finish(self) -> dict[str, Any]:
        out = super().finish()
        passes = self.labels.get("pass", 0)
        single = next(iter(self.sandboxes)) if len(self.sandboxes) == 1 else None
        out.update(
            pass_rate=ratio(passes, self.n),
            pass_rate_excluding_sandbox_errors=ratio(passes, self.n - self.infrastructure),
            sandbox_errors=self.infrastructure,
            sandboxes=dict(self.sandboxes.most_common()),
            sandbox=single,
            error_types=dict(self.error_types.most_common(10)),
            timeouts=dict(self.timeouts.most_common()),
            test_pass_rate=ratio(self.tests_passed, self.tests_total),
            tests_total=self.tests_total,
            mean_duration_s=self.durations / self.n_timed if self.n_timed else None,
            max_duration_s=self.max_duration if self.n_timed else None,
        )
        if self.per_sample:
            counts = {sid: (n, c) for sid, (n, c) in self.per_sample.items()}
            out["pass_at_k"] = [asdict(p) for p in pass_at_k_table(counts)]
        return out
