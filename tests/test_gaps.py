"""evalkit.analysis.gaps: the closed x open matrix, the best-closed rows and their Holm correction."""

from __future__ import annotations

import pytest

from evalkit.analysis.gaps import best_closed_rows, gap_matrix, pick_best_closed
from evalkit.analysis.summary import ModelInfo, ModelSummary, ScoreStat, UsageStat
from evalkit.stats import holm

CELLS = {
    # sample s0..s3 (s0, s1 in slice type=a; s2, s3 in type=b), one epoch; c2 never answered s3
    "em": {
        ("s0", 0): {"c1": 1.0, "c2": 1.0, "o1": 0.0},
        ("s1", 0): {"c1": 1.0, "c2": 0.0, "o1": 1.0},
        ("s2", 0): {"c1": 1.0, "c2": 1.0, "o1": 1.0},
        ("s3", 0): {"c1": 0.0, "o1": 0.0},
    }
}
SLICES = {"s0": ("type=a",), "s1": ("type=a",), "s2": ("type=b",), "s3": ("type=b",)}


def _matrix(cells=CELLS, closed=("c1", "c2"), open_=("o1",)):  # type: ignore[no-untyped-def]
    return gap_matrix(
        cells,
        closed=list(closed),
        open_=list(open_),
        slices_of=SLICES,
        slices=["type=a", "type=b"],
        errors={("o1", "all"): 3},
        confidence=0.95,
        n_resamples=1000,
        seed=1,
    )


def test_matrix_rows_pairs_and_slices() -> None:
    rows = _matrix()
    got = [(g.closed_model, g.slice, g.n_pairs, g.gap) for g in rows]
    assert got == [
        ("c1", "all", 4, pytest.approx(0.25)),
        ("c2", "all", 3, pytest.approx(0.0)),
        ("c1", "type=a", 2, pytest.approx(0.5)),
        ("c2", "type=a", 2, pytest.approx(0.0)),
        ("c1", "type=b", 2, pytest.approx(0.0)),
        ("c2", "type=b", 1, pytest.approx(0.0)),
    ]
    assert rows[0].open_errors == 3 and rows[0].closed_errors == 0
    assert all(g.p_holm is None for g in rows)


def test_pair_without_shared_cells_has_an_empty_all_row_only() -> None:
    cells = {"em": {("s0", 0): {"c1": 1.0}, ("s1", 0): {"o1": 1.0}}}
    (row,) = _matrix(cells, closed=("c1",))
    assert (row.slice, row.n_pairs, row.gap, row.p_method) == ("all", 0, None, None)


def test_best_rows_are_holm_corrected_per_scorer() -> None:
    cells = {**CELLS, "other": CELLS["em"]}
    rows = best_closed_rows(_matrix(cells), "c1")
    assert {g.closed_model for g in rows} == {"c1"} and len(rows) == 6
    for scorer in ("em", "other"):
        mine = [g for g in rows if g.scorer == scorer]
        assert [g.p_holm for g in mine] == holm([g.p_value for g in mine])
        assert {g.holm_family for g in mine} == {3}


def _ms(name: str, group: str, mean: float | None, status: str = "ok") -> ModelSummary:
    n = 0 if mean is None else 10
    score = ScoreStat("em", n, mean, None, None, "wilson")
    return ModelSummary(ModelInfo(name, group, status), "all", UsageStat(cells=n), {"em": score})


@pytest.mark.parametrize(
    ("models", "best", "note"),
    [
        ([_ms("a", "closed", 0.7), _ms("b", "closed", 0.9), _ms("o", "open", 0.5)], "b", None),
        # a model that ran to completion beats a stopped one with a higher mean
        ([_ms("a", "closed", 0.7), _ms("b", "closed", 0.9, "stopped"), _ms("o", "open", 0.5)], "a", None),
        ([_ms("a", "closed", None, "skipped"), _ms("o", "open", 0.5)], None, "No closed model ran"),
        ([_ms("a", "closed", 0.7)], None, "the suite has no open model"),
    ],
)
def test_pick_best_closed(models: list[ModelSummary], best: str | None, note: str | None) -> None:
    got, why = pick_best_closed(models, "em")
    assert got == best
    assert (why is None) if note is None else (why is not None and note in why)
