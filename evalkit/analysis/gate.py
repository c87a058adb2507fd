"""The migration decision: pure rules over a :class:`~evalkit.analysis.summary.RunSummary` -> one of three
outcomes and an exit code (docs/statistics.md, "The gate").

Rules (``gate:`` in the suite, :class:`evalkit.config.schema.GateConfig`) read the gate scorer
(``gate.scorer``, default the suite's first scorer), slice ``all``. The question is whether *an*
open model can take over, so the rules about open models are judged per open model (a
*candidate*):

* ``max_gap MODEL`` — non-inferiority: the gap best closed − MODEL (paired, its interval at the
  run's confidence) is **pass** when the interval's upper bound <= ``max_gap``, **fail** when its
  lower bound > ``max_gap``, else **inconclusive** (the reason says how many examples would
  decide). Below 30 examples the interval is unreliable: it can fail, never pass.
* ``min_score[open] MODEL`` — the candidate's mean >= the floor.
* ``max_error_rate MODEL`` — the candidate's errors / requests <= the limit.

Rules about closed models apply to the run as a whole: ``min_score[closed] MODEL`` and
``max_error_rate MODEL`` for each closed model that ran.

Always checked: ``run_status`` (a run.json status other than ``finished`` — ``running`` for a
run in progress or killed, ``interrupted``, ``failed``, ``budget_exhausted`` — holds partial
results: cannot decide, with how to resume) and ``infrastructure`` (a model stopped mid-run, a model with no
result, every request of a model failed, no model ran). A rule that cannot be evaluated (no closed
model for ``max_gap``, no model of a group for ``min_score``, no shared cell) is ``insufficient``.

Outcome, in this order:

1. any ``infrastructure`` / ``insufficient`` -> **CANNOT DECIDE**, exit 3;
2. a closed-model rule fails -> **STAY**, exit 1;
3. some candidate passes all its rules -> **MIGRATE**, exit 0, naming it (the one with the
   lowest gap upper bound when several pass);
4. every candidate fails one of its rules -> **STAY**, exit 1;
5. otherwise -> **INCONCLUSIVE**: exit 4 (``gate.inconclusive: fail``, the default) or exit 0
   with a warning line (``gate.inconclusive: pass``); the verdict prints the examples needed for
   the candidate closest to passing (:func:`closest_candidate`: lowest gap upper bound).

With ``gate.partial.allow: true`` and the run's partial migrations (:mod:`evalkit.analysis.partial`),
a STAY or INCONCLUSIVE of step 4 or 5 becomes **MIGRATE PARTIALLY**, exit 5, when some candidate's
partial migration exists and every one of its rules other than ``max_gap`` passes (the whole-run gap
is what the partial migration works around); among several, the largest saving, else the largest
share of traffic (:meth:`~evalkit.analysis.partial.PartialAnalysis.recommended`). A closed-model rule
that fails, a candidate that migrates fully, or a run that cannot be decided keep their outcome.

No rule configured -> MIGRATE with a line that says so (the always-checked rules still apply).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pydantic import ValidationError

from evalkit.analysis.gaps import gap_plan
from evalkit.analysis.outcome import GateOutcome, Overall, RuleStatus, RuleVerdict, fmt
from evalkit.analysis.partial import PartialAnalysis
from evalkit.analysis.summary import ALL, GapSummary, ModelSummary, RunSummary
from evalkit.config.schema import GateConfig
from evalkit.errors import RunDirError
from evalkit.rundir.manifest import Manifest
from evalkit.stats import MIN_RELIABLE_N
from evalkit.types import Group

__all__ = ["classify_gap", "closest_candidate", "evaluate_gate", "gate_config_from_manifest"]


def gate_config_from_manifest(manifest: Manifest) -> GateConfig:
    """The gate of a run: run.json ``gate``, else ``suite_config.gate``, else no rules."""
    raw = manifest.gate
    try:
        return GateConfig.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        raise RunDirError(f"run.json: gate.{loc}: {e['msg']}") from None


def _ci(g: GapSummary) -> str:
    return f"[{fmt(g.ci_low)}, {fmt(g.ci_high)}]"


def classify_gap(low: float, high: float, margin: float, n_examples: int) -> RuleStatus:
    """Non-inferiority at ``margin``: PASS when ``high <= margin`` (and at least 30 examples),
    FAIL when ``low > margin``, else INCONCLUSIVE."""
    if low > margin:
        return RuleStatus.FAIL
    if high <= margin and n_examples >= MIN_RELIABLE_N:
        return RuleStatus.PASS
    return RuleStatus.INCONCLUSIVE


def evaluate_gate(
    summary: RunSummary, gate_config: GateConfig, partial: PartialAnalysis | None = None
) -> GateOutcome:
    """Apply ``gate_config`` to ``summary``. Pure: no I/O. ``partial``: the run's partial migrations
    (:func:`evalkit.analysis.partial.analyse_partial`), read only with ``gate.partial.allow``."""
    outcome = _evaluate(summary, gate_config)
    return _with_partial(outcome, partial) if gate_config.partial.allow else outcome


def _evaluate(summary: RunSummary, gate_config: GateConfig) -> GateOutcome:
    scorer = gate_config.scorer or summary.gate_scorer or (summary.scorers[0] if summary.scorers else None)
    rules: list[RuleVerdict] = [_run_status(summary), _infrastructure(summary)]
    notes = [
        f"{m.name} ({m.group}) {m.info.status_text}: not gated"
        for m in summary.models
        if m.info.status == "skipped"
    ]
    policy = gate_config.inconclusive
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
        return _outcome(rules, scorer, notes, policy)
    if not configured:
        rules.append(
            RuleVerdict("rules", RuleStatus.PASS, None, None, "no gate rules configured: nothing to check")
        )
        return _outcome(rules, scorer, notes, policy)
    assert scorer is not None

    ran = [m for m in summary.models if m.info.ran and m.usage.cells > 0]
    for group in ("closed", "open"):
        members = [m for m in ran if m.group == group]
        floor = gate_config.min_score.get(Group(group))
        if floor is not None and not members:
            reason = f"no {group} model ran, so its score cannot be checked"
            rules.append(RuleVerdict(f"min_score[{group}]", RuleStatus.INSUFFICIENT, None, floor, reason))
        for m in members:
            candidate = m.name if group == "open" else None
            if floor is not None:
                rules.append(_min_score(m, scorer, group, floor, candidate))
            if gate_config.max_error_rate is not None:
                rules.append(_max_error_rate(m, gate_config.max_error_rate, candidate))
            if group == "open" and gate_config.max_gap is not None and summary.best_closed is not None:
                rules.append(_max_gap(summary, scorer, m.name, gate_config.max_gap))
    if gate_config.max_gap is not None and summary.best_closed is None:
        why = summary.gap_note or "no closed-vs-open pair ran"
        rules.append(RuleVerdict("max_gap", RuleStatus.INSUFFICIENT, None, gate_config.max_gap, why))
    return _outcome(rules, scorer, notes, policy)


def _min_score(m: ModelSummary, scorer: str, group: str, floor: float, candidate: str | None) -> RuleVerdict:
    name = f"min_score[{group}] {m.name}"
    mean = m.scores[scorer].mean
    if mean is None:
        why = f"{m.name} has no scored cell on {scorer}"
        return RuleVerdict(name, RuleStatus.INSUFFICIENT, None, floor, why, candidate)
    ok = mean >= floor
    why = f"{m.name} scores {fmt(mean)} on {scorer} ({'>=' if ok else '<'} {fmt(floor)})"
    return RuleVerdict(name, RuleStatus.PASS if ok else RuleStatus.FAIL, mean, floor, why, candidate)


def _max_error_rate(m: ModelSummary, limit: float, candidate: str | None) -> RuleVerdict:
    rate = m.usage.error_rate or 0.0
    ok = rate <= limit
    why = (
        f"{m.name}: {m.usage.errors} of {m.usage.cells} requests failed "
        f"({rate:.1%} {'<=' if ok else '>'} {limit:.1%})"
    )
    status = RuleStatus.PASS if ok else RuleStatus.FAIL
    return RuleVerdict(f"max_error_rate {m.name}", status, rate, limit, why, candidate)


def _max_gap(summary: RunSummary, scorer: str, open_model: str, margin: float) -> RuleVerdict:
    name = f"max_gap {open_model}"
    g = next((x for x in summary.gaps_for(scorer, ALL) if x.open_model == open_model), None)
    if g is None or g.gap is None or g.ci_low is None or g.ci_high is None or g.n_examples == 0:
        why = f"no cell was answered by both {summary.best_closed} and {open_model}"
        return RuleVerdict(name, RuleStatus.INSUFFICIENT, None, margin, why, open_model)
    status = classify_gap(g.ci_low, g.ci_high, margin, g.n_examples)
    plan = gap_plan(g, margin, summary.confidence)
    assert plan is not None  # a margin and a gap on examples: there is a plan
    head = f"gap {g.closed_model} - {open_model} = {fmt(g.gap)} {_ci(g)} on {g.n_examples} examples"
    if status is RuleStatus.PASS:
        why = f"{head}: upper bound {fmt(g.ci_high)} <= max_gap {fmt(margin)}"
    elif status is RuleStatus.FAIL:
        why = f"{head}: lower bound {fmt(g.ci_low)} > max_gap {fmt(margin)}"
    elif g.ci_high <= margin:
        why = f"{head}: within max_gap {fmt(margin)}, but {plan.text()}"
    else:
        why = f"{head} contains max_gap {fmt(margin)}: {plan.text()}"
    if not g.reliable:
        why += f" (the interval is unreliable below {MIN_RELIABLE_N} examples)"
    needed = plan.needed if status is RuleStatus.INCONCLUSIVE else None
    return RuleVerdict(name, status, g.gap, margin, why, open_model, plan.text(), needed, g.ci_high)


def _run_status(summary: RunSummary) -> RuleVerdict:
    st = summary.status
    if st == "finished":
        return RuleVerdict("run_status", RuleStatus.PASS, None, None, "the run finished")
    if st in ("running", "interrupted"):
        how = "still in progress, or killed" if st == "running" else "stopped by Ctrl+C or SIGTERM"
        why = (
            f"the run did not finish (run.json says {st!r}: {how}), so its results are partial; "
            "finish it with `evalkit run --resume RUN_DIR`, then gate again"
        )
        return RuleVerdict("run_status", RuleStatus.INSUFFICIENT, None, None, why)
    why = f"run.json says the run is {st!r}: its results are partial or missing; resume or re-run it before gating"
    return RuleVerdict("run_status", RuleStatus.INSUFFICIENT, None, None, why)


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


def _outcome(rules: list[RuleVerdict], scorer: str | None, notes: list[str], policy: str) -> GateOutcome:
    statuses = {r.status for r in rules}
    if statuses & {RuleStatus.INFRASTRUCTURE, RuleStatus.INSUFFICIENT}:
        return GateOutcome(tuple(rules), Overall.INFRASTRUCTURE, scorer, tuple(notes), inconclusive=policy)
    per: dict[str, list[RuleVerdict]] = {}
    for r in rules:
        if r.candidate is not None:
            per.setdefault(r.candidate, []).append(r)
    candidates: dict[str, Overall] = {}
    for name, rs in per.items():
        if any(r.status is RuleStatus.FAIL for r in rs):
            candidates[name] = Overall.STAY
        elif all(r.passed for r in rs):
            candidates[name] = Overall.MIGRATE
        else:
            candidates[name] = Overall.INCONCLUSIVE
    cands = tuple(candidates.items())
    if any(r.status is RuleStatus.FAIL for r in rules if r.candidate is None):
        return GateOutcome(tuple(rules), Overall.STAY, scorer, tuple(notes), None, cands, inconclusive=policy)
    migrating = [n for n, o in cands if o is Overall.MIGRATE]
    if migrating or not cands:
        chosen = min(migrating, key=lambda n: _rank(per[n])) if migrating else None
        return GateOutcome(
            tuple(rules), Overall.MIGRATE, scorer, tuple(notes), chosen, cands, inconclusive=policy
        )
    if all(o is Overall.STAY for _n, o in cands):
        return GateOutcome(tuple(rules), Overall.STAY, scorer, tuple(notes), None, cands, inconclusive=policy)
    best = closest_candidate(rules, candidates)
    rule = next((r for r in rules if best is not None and r.name == f"max_gap {best}"), None)
    advice = f"{best}: {rule.advice}" if rule is not None and rule.advice else None
    return GateOutcome(
        tuple(rules),
        Overall.INCONCLUSIVE,
        scorer,
        tuple(notes),
        None,
        cands,
        advice,
        inconclusive=policy,
        closest=best,
    )


def closest_candidate(
    rules: list[RuleVerdict] | tuple[RuleVerdict, ...], candidates: Mapping[str, Overall]
) -> str | None:
    """The inconclusive open model closest to passing: the lowest upper bound of its ``max_gap``
    interval, then the fewest examples needed to decide, then the name. The gate's advice and the
    report's verdict sentence (:func:`evalkit.report.verdict.task_verdict`) both name this one."""
    pool = [
        r
        for r in rules
        if r.name.startswith("max_gap ")
        and r.candidate is not None
        and r.status is RuleStatus.INCONCLUSIVE
        and candidates.get(r.candidate) is Overall.INCONCLUSIVE
    ]
    inf = float("inf")
    best = min(
        pool,
        key=lambda r: (
            r.upper if r.upper is not None else inf,
            r.needed if r.needed is not None else inf,
            r.candidate or "",
        ),
        default=None,
    )
    return best.candidate if best is not None else None


def _rank(rules: list[RuleVerdict]) -> tuple[float, float]:
    """Order passing candidates: the lowest gap first (the gap's interval is in the reason; the
    observed gap of max_gap, else minus the mean of min_score)."""
    gap = next((r.observed for r in rules if r.name.startswith("max_gap") and r.observed is not None), None)
    score = next(
        (r.observed for r in rules if r.name.startswith("min_score") and r.observed is not None), 0.0
    )
    return (gap if gap is not None else 0.0, -score)


def _with_partial(outcome: GateOutcome, partial: PartialAnalysis | None) -> GateOutcome:
    """MIGRATE PARTIALLY instead of STAY / INCONCLUSIVE when a candidate's partial migration exists
    and its other rules pass; every open model's partial migration as a line either way."""
    if partial is None:
        return outcome
    notes = tuple(f"{e.open_model}: {e.reason}" for e in partial.entries) or (
        (partial.note,) if partial.note else ()
    )
    outcome = dataclasses.replace(outcome, partial_notes=notes)
    if outcome.overall not in (Overall.STAY, Overall.INCONCLUSIVE):
        return outcome
    if any(r.status is RuleStatus.FAIL for r in outcome.rules if r.candidate is None):
        return outcome  # a closed-model rule failed: the run as a whole stays
    eligible = [
        name
        for name, _o in outcome.candidates
        if all(r.passed for r in outcome.rules if r.candidate == name and not r.name.startswith("max_gap "))
    ]
    best = partial.recommended(eligible)
    if best is None or best.migration is None:
        return outcome
    return dataclasses.replace(
        outcome,
        overall=Overall.PARTIAL,
        chosen=best.open_model,
        advice=None,
        closest=None,
        partial=best.migration.reason,
        routing_rule=partial.routing_rule(best),
    )
