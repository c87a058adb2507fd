"""How many examples are enough: the gap interval's half-width now, and the examples needed to
exclude the gate's margin δ (``max_gap``).

Notation: n examples now, observed gap d (closed − open, per example, epochs averaged), s the
standard deviation (ddof 0) of the per-example differences, z = z_{1−α/2} (1.96 at 95 %).
For pass/fail scores with one epoch, with p10 / p01 the shares of examples only the closed /
only the open model passed, ``s² = p10 + p01 − (p10 − p01)²`` (the paired-proportions, McNemar
variance of the difference).

* **Half-width now** — the reported interval's ``(high − low) / 2``; in normal approximation
  ``z · s / √n``.
* **Examples needed** (:func:`examples_needed`) — the n at which the interval, *if the gap and the
  discordance stay as observed*, just excludes δ::

      N = z² · s² / (δ − d)²        e.g. = z² · (p10 + p01 − (p10 − p01)²) / (δ − d)²

  For d < δ that is the n where the upper bound ``d + z s/√N`` reaches δ (the migrate side);
  for d > δ where the lower bound reaches δ (the stay side). We use ``δ − d``, not ``δ − |d|``:
  an open model observed to be *better* (d < 0) needs fewer examples to show it is not worse by
  δ. At d = δ no number of examples decides: ``None``.
* **Its meaning** — N is a precision target, not a guarantee: if the true gap is exactly d, a
  run with N examples lands on the decided side about half of the time (the estimate is as likely
  to move away from δ as towards it). For a chance ``power`` the formula becomes
  ``N = (z + z_power)² s² / (δ − d)²`` (z_power = 0.84 for 80 %); :func:`examples_needed` gives
  both and the report prints both. ``bench/gap_simulation.py`` checks the two against simulation
  (docs/statistics.md has the figures).
* **No discordance** (s = 0) — the interval is the exact worst case of
  :func:`~evalkit.stats.intervals.all_equal_bounds`, whose half-width does not shrink like 1/√n;
  N solves ``d + u(N)(1 − d) ≤ δ`` (or ``d − u(N)(1 + d) > δ``) with ``u(N) = 1 − (α/2)^(1/N)``:
  about 3.7/δ examples for d = 0 at 95 %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from evalkit.stats.intervals import DEFAULT_CONFIDENCE, z_value

__all__ = [
    "DEFAULT_POWER",
    "SampleSizePlan",
    "examples_needed",
    "nice_count",
    "plan_sample_size",
    "pp",
]

DEFAULT_POWER = 0.8


def examples_needed(
    gap: float,
    sd_diff: float,
    margin: float,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    power: float = 0.5,
) -> int | None:
    """Examples for the interval to exclude ``margin`` with probability ``power`` if the true gap
    is ``gap`` and the per-example SD is ``sd_diff``; ``None`` when ``gap == margin``."""
    if sd_diff < 0:
        raise ValueError("sd_diff must be non-negative")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be between 0 and 1, got {power}")
    z = z_value(confidence)
    distance = abs(margin - gap)
    if distance == 0.0:
        return None
    if sd_diff == 0.0:
        return _needed_all_equal(gap, margin, confidence)
    z_power = z_value(2.0 * power - 1.0) if power > 0.5 else 0.0
    return max(1, math.ceil(((z + z_power) * sd_diff / distance) ** 2))


def _needed_all_equal(gap: float, margin: float, confidence: float) -> int | None:
    alpha = 1.0 - confidence
    # the largest share u of examples that may differ while the bound stays on the decided side
    u = (margin - gap) / (1.0 - gap) if gap < margin else (gap - margin) / (1.0 + gap)
    if u >= 1.0:
        return 1
    if u <= 0.0:
        return None
    return max(1, math.ceil(math.log(alpha / 2.0) / math.log(1.0 - u)))


def pp(x: float) -> str:
    """A fraction as percentage points: 0.041 -> ``4.1 pp``, 0.03 -> ``3 pp``."""
    return f"{round(x * 100, 1):g} pp"


def nice_count(n: int) -> str:
    """Rounded *up* for "about N": exact below 100, to 10 below 10,000, else to 100; thousands separators."""
    if n >= 10_000:
        n = math.ceil(n / 100) * 100
    elif n >= 100:
        n = math.ceil(n / 10) * 10
    return f"{n:,}"


@dataclass(frozen=True, slots=True)
class SampleSizePlan:
    """Where a gap interval stands against the margin, and what it would take to decide."""

    n_now: int
    half_width_now: float | None
    gap: float
    margin: float
    decided: bool
    """The interval already excludes the margin (on either side)."""
    needed: int | None
    """Examples for the interval to just exclude the margin if gap and discordance stay as observed
    (about a 50 % chance); ``None`` when the gap equals the margin."""
    needed_power: int | None
    power: float

    @property
    def side(self) -> str:
        """``below``: showing gap <= margin (migrate) is what more data would do; ``above``: gap > margin."""
        return "below" if self.gap < self.margin else "above"

    def text(self) -> str:
        """E.g. "with 400 examples the gap interval is ±4.1 pp; to rule out a 3 pp gap you need
        about 1,150 (about 2,340 for an 80 % chance)"."""
        hw = f"±{pp(self.half_width_now)}" if self.half_width_now is not None else "undefined"
        head = f"with {self.n_now:,} examples the gap interval is {hw}"
        if self.decided:
            return head + f", which already excludes {pp(self.margin)}"
        if self.needed is None:
            return (
                head
                + f"; the observed gap equals the margin {pp(self.margin)}: more examples alone will not decide"
            )
        goal = (
            f"to rule out a {pp(self.margin)} gap"
            if self.side == "below"
            else f"to show the gap exceeds {pp(self.margin)}"
        )
        tail = ""
        if self.needed_power is not None and self.needed_power != self.needed:
            chance = f"{self.power:.0%}"
            article = "an" if chance.startswith(("8", "11", "18")) else "a"
            tail = f" (about {nice_count(self.needed_power)} for {article} {chance} chance)"
        return f"{head}; {goal} you need about {nice_count(self.needed)}{tail}"


def plan_sample_size(
    *,
    n_examples: int,
    gap: float,
    sd_diff: float,
    low: float | None,
    high: float | None,
    margin: float,
    confidence: float = DEFAULT_CONFIDENCE,
    power: float = DEFAULT_POWER,
) -> SampleSizePlan:
    """The plan for one gap against ``margin`` (``low``/``high``: the interval as reported)."""
    half = None if low is None or high is None else (high - low) / 2.0
    decided = low is not None and high is not None and (high <= margin or low > margin)
    needed = examples_needed(gap, sd_diff, margin, confidence=confidence)
    needed_power = examples_needed(gap, sd_diff, margin, confidence=confidence, power=power)
    if not decided:
        # the bootstrap and the normal approximation differ a little: never claim "enough" yet
        needed = None if needed is None else max(needed, n_examples + 1)
        needed_power = None if needed_power is None else max(needed_power, n_examples + 1)
    return SampleSizePlan(n_examples, half, gap, margin, decided, needed, needed_power, power)
