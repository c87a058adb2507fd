"""``tool_calls``: why calls failed, how often the model answered in text, native vs prompted.

Pass rate per category comes from the slices (the mean of ``value`` per ``category`` tag); these
metrics say what went wrong, over the rows that have a verdict:

* ``pass_rate``: ``pass`` / n;
* ``failure_reasons``: failing class -> count (every failing class, zeros included, in the
  scorer's order) and ``failure_shares``: the same over the failing rows (``None`` without any);
* ``text_instead_of_call_share``: rows answered with text where calls were expected / n;
* ``call_count_mismatch``: rows with a verdict whose ``n_called`` differs from ``n_expected``
  (``meta``), ``call_counts``: the mean ``n_called`` and ``n_expected`` over those with both;
* ``by_mode``: ``native`` / ``prompted`` -> ``n``, ``pass_rate`` (reports keep the two apart;
  lines without ``meta.mode`` count as native);
* ``top_arguments``: the arguments the argument-level failures (``wrong_argument``,
  ``missing_argument``, ``unexpected_argument``) were about, ``[[function.argument, count], ...]``,
  the ten most frequent; at most :data:`MAX_ARGUMENTS` distinct ones are kept.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from evalkit.scorers.metrics.base import Accumulator, ratio
from evalkit.types import Score

__all__ = ["FAILURES", "MAX_ARGUMENTS", "ToolCallAccumulator"]

FAILURES = (
    "wrong_function",
    "missing_call",
    "extra_call",
    "wrong_argument",
    "missing_argument",
    "unexpected_argument",
    "invalid_arguments_json",
    "text_instead_of_call",
    "bad_expected",
)
"""The failing classes of the ``tool_calls`` scorer, in its order."""
MAX_ARGUMENTS = 200
_ARGUMENT_FAILURES = ("wrong_argument", "missing_argument", "unexpected_argument")
_OTHER = "(other arguments)"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class ToolCallAccumulator(Accumulator):
    """Streams one model's ``tool_calls`` verdicts into failure reasons, text answers and per-mode pass rates."""

    kind = "tool_calls"
    classes = ("pass", *FAILURES)

    def __init__(self) -> None:
        super().__init__()
        self.mode_n: Counter[str] = Counter()
        self.mode_pass: Counter[str] = Counter()
        self.mismatch = 0
        self.counted = self.called = self.expected = 0
        self.arguments: Counter[str] = Counter()

    def add(self, expected: Any, score: Score, sample_id: str | None = None) -> None:
        super().add(expected, score, sample_id)
        meta = score.meta
        mode = "prompted" if meta.get("mode") == "prompted" else "native"
        self.mode_n[mode] += 1
        self.mode_pass[mode] += score.label == "pass"
        n_called, n_expected = _count(meta.get("n_called")), _count(meta.get("n_expected"))
        if n_called is not None and n_expected is not None and score.label != "bad_expected":
            self.counted += 1
            self.called += n_called
            self.expected += n_expected
            self.mismatch += n_called != n_expected
        argument = meta.get("argument")
        if score.label in _ARGUMENT_FAILURES and isinstance(argument, str):
            function = meta.get("function")
            key = f"{function}.{argument}" if isinstance(function, str) else argument
            if key not in self.arguments and len(self.arguments) >= MAX_ARGUMENTS:
                key = _OTHER
            self.arguments[key] += 1

    def finish(self) -> dict[str, Any]:
        failures = {c: self.labels.get(c, 0) for c in FAILURES}
        n_failed = self.n - self.labels.get("pass", 0)
        out = super().finish()
        out.update(
            pass_rate=ratio(self.labels.get("pass", 0), self.n),
            failure_reasons=failures,
            failure_shares={c: ratio(k, n_failed) for c, k in failures.items()},
            text_instead_of_call_share=ratio(self.labels.get("text_instead_of_call", 0), self.n),
            call_count_mismatch=self.mismatch,
            call_counts={
                "rows": self.counted,
                "mean_called": ratio(self.called, self.counted),
                "mean_expected": ratio(self.expected, self.counted),
            },
            by_mode={
                mode: {"n": self.mode_n[mode], "pass_rate": ratio(self.mode_pass[mode], self.mode_n[mode])}
                for mode in ("native", "prompted")
                if self.mode_n[mode]
            },
            top_arguments=[
                [k, c] for k, c in sorted(self.arguments.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            ],
        )
        return out
