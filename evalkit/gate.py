"""The migration decision: pure rules over a :class:`~evalkit.summary.RunSummary` -> exit code.

Rules (``gate:`` in the suite, :class:`evalkit.suite.GateConfig`), all read the gate scorer
(``gate.scorer``, default the suite's first scorer), slice ``all``, point estimates:

* ``min_score[GROUP] MODEL`` — one verdict per model of GROUP that ran: its mean must be
  >= the threshold. Every such model must meet it.
* ``max_gap`` — best closed mean minus an open model's mean, paired on the cells both have.
  It passes when **at least one** open model's gap is <= ``max_gap``: the question is whether
  *an* open model can take over, not whether every candidate could. The verdict names the
  best open model and lists every gap (with its interval) in the reason.
* ``max_error_rate MODEL`` — one verdict per model that ran: errors / requests <= threshold.

Always checked, whatever is configured:

* ``run_status`` — a run whose run.json says ``interrupted`` or ``failed`` holds partial
  results: the gate cannot decide (resume it first). ``running`` passes with a caution
  (the runner gates before it marks the run finished; a killed run also stays ``running``).
* ``infrastructure`` — a model that ran but whose every request failed, a model with no
  result at all, a model stopped mid-run (401/403), or no model run at all (every one
  skipped) means the run did not measure what it was meant to: exit 3.

A rule that cannot be evaluated (no closed model ran for ``max_gap``, no model of a group for
``min_score``) never passes silently: it is ``insufficient`` and the outcome is exit 3
("infrastructure / insufficient data"), like an infrastructure failure. Skipped models
(credentials missing) are otherwise left out of the rules and named in the outcome's notes.

Overall: any ``infrastructure``/``insufficient`` verdict -> INFRASTRUCTURE (exit 3); else any
``fail`` -> FAIL (exit 1, stay); else PASS (exit 0, migrate). No rule configured -> PASS with
a verdict line that says so (the infrastructure checks still apply).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from evalkit.errors import ExitCode, RunDirError
from evalkit.suite import GateConfig
from evalkit.summary import ALL, RunSummary

__all__ = [
    "GateOutcome",
    "Overall",
    "RuleStatus",
    "RuleVerdict",
    "evaluate_gate",
    "format_gate",
    "gate_config_from_manifest",
    "gate_exit_code",
]


class RuleStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"
    """The rule could not be evaluated (no data for it)."""
    INFRASTRUCTURE = "infrastructure"
    """The run did not produce usable results."""


class Overall(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INFRASTRUCTURE = "infrastructure"
    """Infrastructure failure or insufficient data: the gate cannot decide."""


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    name: str
    status: RuleStatus
    observed: float | None
    threshold: float | None
    reason: str

    @property
    def passed(self) -> bool:
        return self.status is RuleStatus.PASS


@dataclass(frozen=True, slots=True)
class GateOutcome:
    rules: tuple[RuleVerdict, ...]
    overall: Overall
    scorer: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.overall is Overall.PASS


def gate_config_from_manifest(manifest: Mapping[str, Any]) -> GateConfig:
    """The gate of a run: run.json ``gate``, else ``suite_config.gate``, else no rules."""
    raw = manifest.get("gate")
    if raw is None:
        raw = (manifest.get("suite_config") or {}).get("gate")
    if raw is not None and not isinstance(raw, dict):
        raise RunDirError("run.json: gate must be an object")
    try:
        return GateConfig.model_validate({k: v for k, v in (raw or {}).items() if v is not None})
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        raise RunDirError(f"run.json: gate.{loc}: {e['msg']}") from None


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def evaluate_gate(summary: RunSummary, gate_config: GateConfig) -> GateOutcome:
    """Apply ``gate_config`` to ``summary``. Pure: no I/O."""
    scorer = gate_config.scorer or summary.gate_scorer or (summary.scorers[0] if summary.scorers else None)
    rules: list[RuleVerdict] = [_run_status(summary), _infrastructure(summary)]
    notes = [
        f"{m.name} ({m.group}) {m.info.status_text}: not gated"
        for m in summary.models
        if m.info.status == "skipped"
    ]
    ran = [m for m in summary.models if m.info.ran and m.usage.cells > 0]

    configured = (
        bool(gate_config.min_score)
        or gate_config.max_gap is not None
        or gate_config.max_error_rate is not None
    )
    if configured and (scorer is None or scorer not in summary.scorers):
        rules.append(
            RuleVerdict(
                "gate_scorer",
                RuleStatus.INSUFFICIENT,
                None,
                None,
                f"gate scorer {scorer!r} has no results in this run",
            )
        )
        return _outcome(rules, scorer, notes)

    for group, threshold in gate_config.min_score.items():
        members = [m for m in ran if m.group == str(group)]
        if not members:
            rules.append(
                RuleVerdict(
                    f"min_score[{group}]",
                    RuleStatus.INSUFFICIENT,
                    None,
                    threshold,
                    f"no {group} model ran, so its score cannot be checked",
                )
            )
        for m in members:
            assert scorer is not None
            mean = m.scores[scorer].mean
            if mean is None:
                rules.append(
                    RuleVerdict(
                        f"min_score[{group}] {m.name}",
                        RuleStatus.INSUFFICIENT,
                        None,
                        threshold,
                        f"{m.name} has no scored cell on {scorer}",
                    )
                )
                continue
            ok = mean >= threshold
            rules.append(
                RuleVerdict(
                    f"min_score[{group}] {m.name}",
                    RuleStatus.PASS if ok else RuleStatus.FAIL,
                    mean,
                    threshold,
                    f"{m.name} scores {_f(mean)} on {scorer} ({'>=' if ok else '<'} {_f(threshold)})",
                )
            )

    if gate_config.max_gap is not None:
        assert scorer is not None
        rules.append(_max_gap(summary, scorer, gate_config.max_gap))

    if gate_config.max_error_rate is not None:
        limit = gate_config.max_error_rate
        for m in ran:
            rate = m.usage.error_rate or 0.0
            ok = rate <= limit
            rules.append(
                RuleVerdict(
                    f"max_error_rate {m.name}",
                    RuleStatus.PASS if ok else RuleStatus.FAIL,
                    rate,
                    limit,
                    f"{m.name}: {m.usage.errors} of {m.usage.cells} requests failed ({rate:.1%} {'<=' if ok else '>'} {limit:.1%})",
                )
            )

    if not configured:
        rules.append(
            RuleVerdict("rules", RuleStatus.PASS, None, None, "no gate rules configured: nothing to check")
        )
    return _outcome(rules, scorer, notes)


def _run_status(summary: RunSummary) -> RuleVerdict:
    st = summary.status
    if st == "finished":
        return RuleVerdict("run_status", RuleStatus.PASS, None, None, "the run finished")
    if st == "running":
        return RuleVerdict(
            "run_status",
            RuleStatus.PASS,
            None,
            None,
            "run.json still says running (in progress, or killed): results may be partial",
        )
    return RuleVerdict(
        "run_status",
        RuleStatus.INSUFFICIENT,
        None,
        None,
        f"run.json says the run is {st!r}: its results are partial or missing; "
        "resume or re-run it before gating",
    )


def _infrastructure(summary: RunSummary) -> RuleVerdict:
    problems: list[str] = []
    for m in summary.models:
        if m.info.status == "stopped":
            problems.append(f"{m.name} was stopped mid-run ({m.info.status_reason or 'auth error'})")
        elif m.info.ran and m.usage.cells == 0:
            problems.append(f"{m.name} has no result in the ledger")
        elif m.info.ran and m.usage.all_failed:
            kinds = ", ".join(f"{k} x{v}" for k, v in m.usage.error_kinds.items())
            problems.append(f"every request of {m.name} failed ({kinds})")
    if not any(m.info.ran or m.info.status == "stopped" for m in summary.models):
        problems.append("no model ran" + (" (every model was skipped)" if summary.models else ""))
    if problems:
        return RuleVerdict("infrastructure", RuleStatus.INFRASTRUCTURE, None, None, "; ".join(problems))
    return RuleVerdict("infrastructure", RuleStatus.PASS, None, None, "every model that ran answered")


def _max_gap(summary: RunSummary, scorer: str, limit: float) -> RuleVerdict:
    if summary.best_closed is None:
        why = summary.gap_note or "no closed-vs-open pair ran"
        return RuleVerdict("max_gap", RuleStatus.INSUFFICIENT, None, limit, why)
    gaps = [g for g in summary.gaps_for(scorer, ALL) if g.gap is not None]
    if not gaps:
        return RuleVerdict(
            "max_gap",
            RuleStatus.INSUFFICIENT,
            None,
            limit,
            f"no cell was answered by both {summary.best_closed} and an open model",
        )
    best = min(gaps, key=lambda g: g.gap if g.gap is not None else float("inf"))
    assert best.gap is not None
    ok = best.gap <= limit
    detail = "; ".join(
        f"{g.open_model} {_f(g.gap)} [{_f(g.ci_low)}, {_f(g.ci_high)}] on {g.n_pairs} pairs" for g in gaps
    )
    head = (
        f"smallest gap {best.closed_model} - {best.open_model} = {_f(best.gap)} "
        f"{'<=' if ok else '>'} {_f(limit)}"
    )
    return RuleVerdict(
        "max_gap", RuleStatus.PASS if ok else RuleStatus.FAIL, best.gap, limit, f"{head} ({detail})"
    )


def _outcome(rules: list[RuleVerdict], scorer: str | None, notes: list[str]) -> GateOutcome:
    statuses = {r.status for r in rules}
    if statuses & {RuleStatus.INFRASTRUCTURE, RuleStatus.INSUFFICIENT}:
        overall = Overall.INFRASTRUCTURE
    elif RuleStatus.FAIL in statuses:
        overall = Overall.FAIL
    else:
        overall = Overall.PASS
    return GateOutcome(tuple(rules), overall, scorer, tuple(notes))


def gate_exit_code(outcome: GateOutcome) -> ExitCode:
    return {
        Overall.PASS: ExitCode.OK,
        Overall.FAIL: ExitCode.GATE_FAILED,
        Overall.INFRASTRUCTURE: ExitCode.INFRASTRUCTURE,
    }[outcome.overall]


_VERDICT_TEXT = {
    Overall.PASS: "MIGRATE: every gate rule passed",
    Overall.FAIL: "STAY: {n} gate rule(s) failed",
    Overall.INFRASTRUCTURE: "CANNOT DECIDE: infrastructure failure or insufficient data",
}


def format_gate(outcome: GateOutcome) -> str:
    """One line per rule, then the notes, then the verdict line (with the exit code)."""
    width = max((len(r.status.value) for r in outcome.rules), default=4)
    lines = [f"{r.status.value.upper():<{width}}  {r.name}: {r.reason}" for r in outcome.rules]
    lines += [f"note  {n}" for n in outcome.notes]
    failed = sum(r.status is RuleStatus.FAIL for r in outcome.rules)
    verdict = _VERDICT_TEXT[outcome.overall].format(n=failed)
    scorer = f" (scorer {outcome.scorer})" if outcome.scorer else ""
    lines.append(f"verdict: {verdict}{scorer}; exit {int(gate_exit_code(outcome))}")
    return "\n".join(lines)
