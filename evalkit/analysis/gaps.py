"""The paired closed − open gaps of a run: the full closed × open matrix and the best-closed rows.

For each scorer, each closed model c and each open model o, the cells ``(sample_id, epoch)`` both
have a value for are paired; each slice (``all`` and every tag slice ``name=value``) takes the
cells of its examples. :func:`evalkit.stats.paired_gap` then averages each example's epochs,
resamples examples (a cluster bootstrap when ``epochs > 1``) and tests the difference.

* :func:`gap_matrix` — every c × o pair, every scorer and slice, with *uncorrected* p-values
  (``gaps.json`` ``matrix``).
* :func:`best_closed_rows` — the rows of the best closed model (highest mean on the gate
  scorer) against each open model: what ``gaps.csv``, the report and the gate read. Their
  p-values are Holm-corrected per scorer, over that scorer's rows (every open model × every
  slice, ``all`` included), so a run with several open models or slices does not find a
  difference by chance: ``p_holm`` and ``holm_family`` (the number of p-values corrected).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from evalkit.analysis.summary import ALL, GapSummary, ModelSummary
from evalkit.stats import SampleSizePlan, holm, paired_gap, plan_sample_size

__all__ = ["CellValues", "best_closed_rows", "gap_matrix", "gap_plan", "pick_best_closed"]

CellValues = Mapping[tuple[str, int], Mapping[str, float]]
"""(sample_id, epoch) -> model -> value, for one scorer."""


def gap_matrix(
    values: Mapping[str, CellValues],
    *,
    closed: Sequence[str],
    open_: Sequence[str],
    slices_of: Mapping[str, tuple[str, ...]],
    slices: Sequence[str],
    errors: Mapping[tuple[str, str], int],
    confidence: float,
    n_resamples: int,
    seed: int,
) -> list[GapSummary]:
    """Every closed minus every open model, per scorer (in ``values`` order) and slice (``all`` first).

    A tag slice without a shared cell is left out; slice ``all`` always has a row (n = 0 when the
    two models share no cell). ``slices_of`` maps a sample id to its tag slices.
    """
    order = {sl: i for i, sl in enumerate((ALL, *[s for s in slices if s != ALL]))}
    rows: list[GapSummary] = []
    for scorer, cells in values.items():
        for c in closed:
            for o in open_:
                rows.extend(
                    _pair_rows(scorer, cells, c, o, slices_of, order, errors, confidence, n_resamples, seed)
                )
    return sorted(rows, key=lambda g: order.get(g.slice, len(order)))


def _pair_rows(
    scorer: str,
    cells: CellValues,
    c: str,
    o: str,
    slices_of: Mapping[str, tuple[str, ...]],
    order: Mapping[str, int],
    errors: Mapping[tuple[str, str], int],
    confidence: float,
    n_resamples: int,
    seed: int,
) -> list[GapSummary]:
    cv: list[float] = []
    ov: list[float] = []
    sids: list[str] = []
    for (sid, _epoch), per_model in cells.items():
        if c in per_model and o in per_model:
            cv.append(per_model[c])
            ov.append(per_model[o])
            sids.append(sid)
    c_arr, o_arr = np.asarray(cv, dtype=np.float64), np.asarray(ov, dtype=np.float64)
    index: dict[str, int] = {}
    ids = np.asarray([index.setdefault(s, len(index)) for s in sids], dtype=np.int64)
    members: dict[str, list[int]] = {}
    for sid, i in index.items():
        for sl in slices_of.get(sid, ()):
            members.setdefault(sl, []).append(i)
    out: list[GapSummary] = []
    for sl in order:
        if sl == ALL:
            mask = np.ones(ids.size, dtype=bool)
        else:
            if sl not in members:
                continue
            mask = np.isin(ids, members[sl])
        g = paired_gap(
            c_arr[mask],
            o_arr[mask],
            clusters=ids[mask],
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        out.append(
            GapSummary(
                scorer=scorer,
                slice=sl,
                closed_model=c,
                open_model=o,
                n_pairs=g.n_pairs,
                closed_mean=g.closed_mean,
                open_mean=g.open_mean,
                gap=g.gap,
                ci_low=g.low,
                ci_high=g.high,
                p_value=g.p_value,
                method=g.method,
                discordant_closed_only=g.discordant_closed_only,
                discordant_open_only=g.discordant_open_only,
                n_examples=g.n_examples,
                p_method=g.p_method if g.n_pairs else None,
                sd_diff=g.sd_diff,
                all_equal=g.all_equal,
                closed_errors=errors.get((c, sl), 0),
                open_errors=errors.get((o, sl), 0),
            )
        )
    return out


def best_closed_rows(matrix: Sequence[GapSummary], best: str) -> list[GapSummary]:
    """The matrix rows of closed model ``best``, with ``p_holm`` over each scorer's rows."""
    rows = [g for g in matrix if g.closed_model == best]
    out = list(rows)
    for scorer in dict.fromkeys(g.scorer for g in rows):
        idx = [i for i, g in enumerate(rows) if g.scorer == scorer]
        family = [rows[i].p_value for i in idx]
        m = sum(p is not None for p in family)
        for i, adj in zip(idx, holm(family), strict=True):
            if adj is not None:
                out[i] = dataclasses.replace(rows[i], p_holm=adj, holm_family=m)
    return out


def pick_best_closed(
    models: Sequence[ModelSummary], gate_scorer: str | None
) -> tuple[str | None, str | None]:
    """The closed model with the highest mean on the gate scorer (models that ran to completion
    first; ties keep manifest order), or ``None`` and why there is no gap, in plain words."""

    def with_results(group: str) -> list[ModelSummary]:
        return [
            m for m in models if m.group == group and gate_scorer is not None and m.scores[gate_scorer].n > 0
        ]

    def absent(group: str) -> str:
        listed = [m for m in models if m.group == group]
        if not listed:
            return f"the suite has no {group} model"
        return "; ".join(
            f"{m.name}: {m.info.status_text if m.info.status != 'ok' else 'no scored results'}"
            for m in listed
        )

    if gate_scorer is None:
        return None, "No scorer in this run, so there is no gap to measure."
    closed, open_ = with_results("closed"), with_results("open")
    notes = []
    if not closed:
        notes.append(f"No closed model ran ({absent('closed')})")
    if not open_:
        notes.append(f"No open model ran ({absent('open')})")
    if notes:
        return None, "; ".join(notes) + ", so there is no closed-vs-open gap to report."
    best = max(closed, key=lambda m: (m.info.ran, m.scores[gate_scorer].mean or 0.0))
    return best.name, None


def gap_plan(g: GapSummary, margin: float | None, confidence: float) -> SampleSizePlan | None:
    """The sample-size plan of a gap against the gate's margin (``None`` without margin or data)."""
    if margin is None or g.gap is None or g.n_examples == 0:
        return None
    return plan_sample_size(
        n_examples=g.n_examples,
        gap=g.gap,
        sd_diff=g.sd_diff or 0.0,
        low=g.ci_low,
        high=g.ci_high,
        margin=margin,
        confidence=confidence,
    )
