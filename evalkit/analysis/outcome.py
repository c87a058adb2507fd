"""The gate's decision as data and as text: each rule's verdict (:class:`RuleVerdict`), the outcome
(:class:`GateOutcome`: migrate, stay, inconclusive or cannot decide; migrate partially when the suite
opts in), its exit code, and the lines
the CLI, the report and CI show. The rules themselves are :mod:`evalkit.analysis.gate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from evalkit.errors import ExitCode

__all__ = [
    "GateOutcome",
    "Overall",
    "RuleStatus",
    "RuleVerdict",
    "fmt",
    "format_gate",
    "gate_exit_code",
    "verdict_text",
]


def fmt(x: float | None) -> str:
    """A gap or a bound in the gate's lines: three decimals, or ``n/a``."""
    return "n/a" if x is None else f"{x:.3f}"


class RuleStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    """The gap interval contains the margin: the data cannot tell."""
    INSUFFICIENT = "insufficient"
    """The rule could not be evaluated (no data for it)."""
    INFRASTRUCTURE = "infrastructure"
    """The run did not produce usable results."""


class Overall(StrEnum):
    MIGRATE = "migrate"
    STAY = "stay"
    INCONCLUSIVE = "inconclusive"
    INFRASTRUCTURE = "infrastructure"
    """Infrastructure failure or insufficient data: the gate cannot decide."""
    PARTIAL = "partial"
    """Migrate partially: route some slices to an open model (``gate.partial.allow: true`` only)."""


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    name: str
    status: RuleStatus
    observed: float | None
    threshold: float | None
    reason: str
    candidate: str | None = None
    """The open model this rule judges; ``None`` for a rule about the whole run."""
    advice: str | None = None
    """For ``max_gap``: the half-width now and the examples needed (:mod:`evalkit.stats.planning`)."""
    needed: int | None = None
    upper: float | None = None
    """For ``max_gap``: the upper bound of the gap's interval (what :func:`evalkit.analysis.gate.closest_candidate` ranks on)."""

    @property
    def passed(self) -> bool:
        return self.status is RuleStatus.PASS


@dataclass(frozen=True, slots=True)
class GateOutcome:
    rules: tuple[RuleVerdict, ...]
    overall: Overall
    scorer: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    chosen: str | None = None
    """MIGRATE: the open model that can take over."""
    candidates: tuple[tuple[str, Overall], ...] = ()
    """Each open model judged and its own outcome (migrate / stay / inconclusive)."""
    advice: str | None = None
    """INCONCLUSIVE: what it would take to decide (the plan of :attr:`closest`)."""
    closest: str | None = None
    """INCONCLUSIVE: the open model closest to passing (:func:`evalkit.analysis.gate.closest_candidate`); the advice and
    the report's verdict sentence both name it."""
    inconclusive: str = "fail"
    """``gate.inconclusive``: ``fail`` (exit 4) or ``pass`` (exit 0 with a warning)."""
    partial: str | None = None
    """PARTIAL: what moves to :attr:`chosen` and what the held-out blend gives, in words."""
    routing_rule: dict[str, Any] | None = None
    """PARTIAL: the chosen open model's routing rule (:meth:`evalkit.stats.partial.PartialMigration.routing_rule`)."""
    partial_notes: tuple[str, ...] = ()
    """Each open model's partial migration in one line, whether or not the gate may act on it."""

    @property
    def passed(self) -> bool:
        """The exit code is 0."""
        return gate_exit_code(self) is ExitCode.OK


def gate_exit_code(outcome: GateOutcome) -> ExitCode:
    if outcome.overall is Overall.INCONCLUSIVE:
        return ExitCode.OK if outcome.inconclusive == "pass" else ExitCode.INCONCLUSIVE
    return {
        Overall.MIGRATE: ExitCode.OK,
        Overall.STAY: ExitCode.GATE_FAILED,
        Overall.INFRASTRUCTURE: ExitCode.INFRASTRUCTURE,
        Overall.PARTIAL: ExitCode.PARTIAL,
    }[outcome.overall]


def verdict_text(outcome: GateOutcome) -> str:
    """The verdict in one phrase, e.g. ``MIGRATE to llama: ...``, ``INCONCLUSIVE: ...``."""
    failed = sum(r.status is RuleStatus.FAIL for r in outcome.rules)
    if outcome.overall is Overall.MIGRATE:
        if outcome.chosen is None:
            return "MIGRATE: every gate rule passed"
        gap = next((r for r in outcome.rules if r.name == f"max_gap {outcome.chosen}"), None)
        others = [n for n, o in outcome.candidates if o is Overall.MIGRATE and n != outcome.chosen]
        text = f"MIGRATE to {outcome.chosen}: " + (
            gap.reason.split(": ", 1)[0] + f" within max_gap {fmt(gap.threshold)}"
            if gap is not None
            else "every rule about it passed"
        )
        return text + (f" (also passing: {', '.join(others)})" if others else "")
    if outcome.overall is Overall.STAY:
        if outcome.candidates and all(o is Overall.STAY for _n, o in outcome.candidates):
            return f"STAY: {failed} gate rule(s) failed; no open model can take over"
        return f"STAY: {failed} gate rule(s) failed"
    if outcome.overall is Overall.INCONCLUSIVE:
        margin = next((r.threshold for r in outcome.rules if r.name.startswith("max_gap")), None)
        text = (
            f"INCONCLUSIVE: no open model is shown within max_gap {fmt(margin)}, and not every one beyond it"
        )
        return text + (f"; {outcome.advice}" if outcome.advice else "")
    if outcome.overall is Overall.PARTIAL:
        return f"MIGRATE PARTIALLY to {outcome.chosen}: {outcome.partial or 'some slices can move'}"
    return "CANNOT DECIDE: infrastructure failure or insufficient data"


def format_gate(outcome: GateOutcome) -> str:
    """One line per rule, then the notes, then the verdict line (with the exit code)."""
    width = max((len(r.status.value) for r in outcome.rules), default=4)
    lines = [f"{r.status.value.upper():<{width}}  {r.name}: {r.reason}" for r in outcome.rules]
    lines += [f"note  {n}" for n in outcome.notes]
    lines += [f"partial  {n}" for n in outcome.partial_notes]
    if outcome.overall is Overall.INCONCLUSIVE and outcome.inconclusive == "pass":
        lines.append("warning: the gate is inconclusive; gate.inconclusive is 'pass', so it exits 0")
    scorer = f" (scorer {outcome.scorer})" if outcome.scorer else ""
    lines.append(f"verdict: {verdict_text(outcome)}{scorer}; exit {int(gate_exit_code(outcome))}")
    return "\n".join(lines)
