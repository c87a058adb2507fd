"""The partial migration from a run folder alone (evalkit/analysis/partial.py, report/partial_view.py):
a planted case found through the report and the gate, noise at the margin not found, the cost against
a hand calculation, unknown prices staying unknown, and the routing rule as a routing layer loads it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from _partial_runs import SLICES, noise_values, planted_values, write_partial_run

from evalkit.cli import main
from evalkit.report import write_report

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "summary.schema.json").read_text(encoding="utf-8"))
GROUPS = {"gpt": "closed", "llama": "open"}
PRICES = {
    "gpt": {"input_per_mtok": 2.0, "output_per_mtok": 8.0},
    "llama": {"input_per_mtok": 0.2, "output_per_mtok": 0.6},
}
PER = 400


def _summary(run: Path) -> dict[str, Any]:
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    jsonschema.validate(doc, SCHEMA)
    return doc


def _planted(tmp_path: Path, seed: int, *, allow: bool, **kw: Any) -> Path:
    closed, open_ = planted_values(np.random.default_rng(seed), PER, ("s0", "s1"))
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": allow}}
    return write_partial_run(
        tmp_path / f"run-{seed}-{allow}", PER, {"gpt": closed, "llama": open_}, GROUPS, gate=gate, **kw
    )


# --- the planted case: exactly two of six slices non-inferior --------------------------------------


@pytest.mark.parametrize(
    ("seed", "allow", "overall", "exit_code", "verdict"),
    [
        (1, True, "partial", 5, "migrate partially"),
        (2, True, "partial", 5, "migrate partially"),
        (1, False, "stay", 1, "stay"),  # without the opt-in the verdict is today's; the section informs
    ],
)
def test_planted_two_of_six_slices_are_found_in_the_report_and_the_gate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    seed: int,
    allow: bool,
    overall: str,
    exit_code: int,
    verdict: str,
) -> None:
    run = _planted(tmp_path, seed, allow=allow)
    write_report(run)
    doc = _summary(run)
    pm = doc["partial_migration"]
    assert (pm["closed_model"], pm["fields"], pm["length_buckets"], pm["allow"]) == (
        "gpt",
        ["kind"],
        3,
        allow,
    )
    (entry,) = pm["models"]
    assert entry["open_model"] == "llama" and entry["exists"] and entry["outcome"] == "partial"
    assert (entry["field"], entry["moved"]) == ("kind", ["s0", "s1"])
    status = {s["slice"]: s["status"] for s in entry["slices"] if s["field"] == "kind"}
    assert status == {"s0": "move", "s1": "move", "s2": "keep", "s3": "keep", "s4": "keep", "s5": "keep"}
    assert entry["holm_family"] == 9  # six tag slices and three length buckets
    honest = entry["honest"]
    assert honest["n_examples"] == 3 * PER and honest["share"] == pytest.approx(1 / 3)
    assert honest["gap_ci"][1] < 0.05 and entry["in_sample"]["n_examples"] == 3 * PER
    assert [t["model"] for t in entry["traffic"]] == ["llama", "llama", "gpt", "gpt", "gpt", "gpt"]
    assert pm["recommended"] == "llama" and pm["routing_rule"] == entry["routing_rule"]

    gate = doc["gate"]
    assert (gate["overall"], gate["exit_code"], doc["verdict"]["verdict"]) == (overall, exit_code, verdict)
    assert gate["routing_rule"] == (entry["routing_rule"] if allow else None)
    assert main(["gate", str(run)]) == exit_code
    printed = capsys.readouterr().out
    assert printed.splitlines()[-1].endswith(f"exit {exit_code}")
    if allow:
        assert "MIGRATE PARTIALLY to llama: route kind in {s0, s1} to llama" in printed
        assert "partial  llama: route kind in {s0, s1}" in printed
    else:
        assert "PARTIAL" not in printed  # the gate's lines are today's

    md = (run / "summary.md").read_text(encoding="utf-8")
    assert "### Partial migration (vs gpt)" in md and "kind in {s0, s1}" in md
    assert ("the gate may answer migrate partially" in md) == allow
    html = (run / "report.html").read_text(encoding="utf-8")
    assert 'id="partial-migration"' in html and '<tr data-exists="1"><td>llama</td>' in html
    junit = ET.fromstring((run / "junit.xml").read_bytes())
    first = junit.find("testsuite/testcase")
    assert first is not None and first.get("name") == "verdict: demo"
    kid = first.find("failure")
    assert kid is not None and kid.get("type") == ("migrate partially" if allow else "stay")
    if allow:
        assert '"route": {"s0": "llama", "s1": "llama"}' in (kid.text or "")


# --- noise at the margin: no slice is in truth within max_gap ----------------------------------------


def test_noise_at_the_margin_finds_no_partial_migration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Independent answers, open worse by exactly max_gap on every slice (0.80 vs 0.75): moving any
    slice would be a false claim; the stats tests measure how rarely (tests/test_stats_blend.py), this
    seeded case goes through the report and the opted-in gate, which does not migrate partially."""
    closed, open_ = noise_values(np.random.default_rng(11), 200, 0.80, 0.75)
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": True}}
    run = write_partial_run(tmp_path / "noise", 200, {"gpt": closed, "llama": open_}, GROUPS, gate=gate)
    write_report(run)
    doc = _summary(run)
    (entry,) = doc["partial_migration"]["models"]
    assert not entry["exists"] and entry["outcome"] in ("none", "not_confirmed")
    assert entry["routing_rule"] is None and doc["partial_migration"]["recommended"] is None
    assert doc["gate"]["overall"] in ("stay", "inconclusive") and doc["gate"]["exit_code"] in (1, 4)
    assert main(["gate", str(run)]) == doc["gate"]["exit_code"]
    assert "MIGRATE PARTIALLY" not in capsys.readouterr().out


def test_on_pure_noise_the_held_out_blend_does_not_look_better(tmp_path: Path) -> None:
    """Both models alike (0.80 on every slice): slices may move (a gap of 0 is within max_gap; in this
    seeded case they do), but the honest blend is not shown better than all-closed, while the
    in-sample figure, measured on the examples that chose the rule, looks better. The whole-run gap
    is within max_gap, so the opted-in gate migrates fully: a partial migration never overrides it."""
    closed, open_ = noise_values(np.random.default_rng(5), 200, 0.80, 0.80)
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": True}}
    run = write_partial_run(tmp_path / "pure", 200, {"gpt": closed, "llama": open_}, GROUPS, gate=gate)
    write_report(run)
    doc = _summary(run)
    (entry,) = doc["partial_migration"]["models"]
    honest, naive = entry["honest"], entry["in_sample"]
    assert honest is not None and honest["n_examples"] == 600
    assert honest["gap_ci"][1] >= 0.0  # not significantly better than all-closed
    assert naive["gap"] < honest["gap"]  # the optimism the split removes
    assert doc["gate"]["overall"] == "migrate" and doc["gate"]["exit_code"] == 0


# --- the cost, by hand ---------------------------------------------------------------------------


def test_the_blend_cost_matches_the_hand_calculation(tmp_path: Path) -> None:
    """gpt ($2 / $8 per million) keeps s2..s5 (500 + 100 tokens a request there: $0.0018) and would
    serve s0, s1 with 1,000 + 200 ($0.0036); llama ($0.20 / $0.60) takes s0, s1 with 1,200 + 300 tokens
    ($0.00042). Each slice is 1/6 of the held-out traffic; at 1M requests a month: all-closed
    1/3 x 3,600 + 2/3 x 1,800 = $2,400; blend 2/3 x 1,800 + 1/3 x 420 = $1,200 + $140 = $1,340;
    saving $1,060 (44.2 %); cost per correct answer = monthly / (1M x the held-out score)."""
    run = _planted(tmp_path, 1, allow=True, prices=PRICES, volume={"requests_per_month": 1_000_000})
    write_report(run)
    (entry,) = _summary(run)["partial_migration"]["models"]
    assert [t["share"] for t in entry["traffic"]] == pytest.approx([1 / 6] * 6)
    assert entry["traffic"][0]["closed_tokens"] == {"input": 1000.0, "output": 200.0}
    assert entry["traffic"][0]["open_tokens"] == {"input": 1200.0, "output": 300.0}
    assert entry["traffic"][2]["closed_tokens"] == {"input": 500.0, "output": 100.0}
    c = entry["cost"]
    assert c["requests_per_month"] == 1_000_000 and c["open_share"] == pytest.approx(1 / 3)
    assert c["all_closed_monthly_usd"] == pytest.approx(2400.0)
    assert (c["closed_part_usd"], c["open_part_usd"]) == (pytest.approx(1200.0), pytest.approx(140.0))
    assert c["blend_monthly_usd"] == pytest.approx(1340.0) and c["saving_usd"] == pytest.approx(1060.0)
    assert c["saving_fraction"] == pytest.approx(1060 / 2400)
    honest = entry["honest"]
    assert c["blend_cost_per_correct_usd"] == pytest.approx(1340.0 / (1e6 * honest["score"]))
    assert c["all_closed_cost_per_correct_usd"] == pytest.approx(2400.0 / (1e6 * honest["closed_score"]))
    assert (c["all_closed_per_1k_requests_usd"], c["blend_per_1k_requests_usd"]) == (
        pytest.approx(2.4),
        pytest.approx(1.34),
    )
    assert c["unknowns"] == []
    html = (run / "report.html").read_text(encoding="utf-8")
    md = (run / "summary.md").read_text(encoding="utf-8")
    for text in (html, md):
        assert "$1,060/month (44.2 %) at 1M requests/month" in text
    assert "all-closed $2,400/month; blend $1,340 = closed part $1,200 + open part $140" in html


@pytest.mark.parametrize(
    ("prices", "volume", "unknown"),
    [
        ({"gpt": PRICES["gpt"]}, {"requests_per_month": 1e6}, "no price for openai/llama"),
        (PRICES, None, "no volume"),
    ],
)
def test_unknown_costs_stay_unknown(
    tmp_path: Path, prices: dict[str, Any], volume: dict[str, float] | None, unknown: str
) -> None:
    run = _planted(tmp_path, 1, allow=False, prices=prices, volume=volume)
    write_report(run)
    (entry,) = _summary(run)["partial_migration"]["models"]
    c = entry["cost"]
    assert c["blend_monthly_usd"] is None and c["saving_usd"] is None
    assert any(unknown in u for u in c["unknowns"]), c["unknowns"]
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "unknown: " + unknown in html.replace("&#39;", "'")
    assert "$0/month" not in html and "$0.00/month" not in html
    if volume is None:  # both are APIs: the per-request figures need no volume
        assert c["blend_per_1k_requests_usd"] == pytest.approx(1.34)


# --- the routing rule, as a routing layer loads it -------------------------------------------------


def _route(rule: dict[str, Any], tags: dict[str, str], chars: int) -> str:
    """A routing layer: the rule's model for a request, from what it sees before the call."""
    if "route" in rule:
        return str(rule["route"].get(tags.get(rule["field"]), rule["default"]))
    for r in rule["ranges"]:
        if r["min"] <= chars and (r["max"] is None or chars < r["max"]):
            return str(r["model"])
    return str(rule["default"])


@pytest.mark.parametrize(
    ("fields", "field", "shape"),
    [
        (["kind"], "kind", {"field", "route", "default", "models"}),
        ([], "input_chars", {"field", "measure", "ranges", "default", "models"}),  # lengths only
    ],
)
def test_the_routing_rule_loads_and_routes_the_moved_slices(
    tmp_path: Path, fields: list[str], field: str, shape: set[str]
) -> None:
    """s0 and s1 are the good slices and also the shortest inputs (20-59 characters; the others
    120-199): by tag or by length alone the rule sends exactly them to llama."""
    closed, open_ = planted_values(np.random.default_rng(3), PER, ("s0", "s1"))
    n = PER * len(SLICES)
    lengths = [20 + i % 40 if i < 2 * PER else 120 + i % 80 for i in range(n)]
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": True, "fields": fields}}
    run = write_partial_run(
        tmp_path / "rule", PER, {"gpt": closed, "llama": open_}, GROUPS, gate=gate, lengths=lengths
    )
    write_report(run)
    doc = _summary(run)
    rule = doc["gate"]["routing_rule"]
    assert rule is not None and set(rule) == shape and rule["field"] == field
    assert rule["default"] == "gpt" and rule["models"] == {"gpt": "openai/gpt", "llama": "openai/llama"}
    loaded = json.loads(json.dumps(rule))  # what a routing layer reads from summary.json
    routed = [_route(loaded, {"kind": SLICES[i // PER]}, lengths[i]) == "llama" for i in range(n)]
    assert routed == [i < 2 * PER for i in range(n)]
    if field == "input_chars":
        assert loaded["ranges"] == [{"min": 0, "max": loaded["ranges"][0]["max"], "model": "llama"}]
        assert 60 <= loaded["ranges"][0]["max"] <= 120


# --- hostile tag values ----------------------------------------------------------------------------

HOSTILE = ("<script>window.__pwned=1</script>", '" onmouseover="window.__pwned=1', "a|b`c*_[x](y)")


def test_hostile_slice_names_are_escaped_in_every_format(tmp_path: Path) -> None:
    """Tag values come from the data: in the section, the routing rule and summary.md they are text."""
    names = (HOSTILE[0], HOSTILE[2], HOSTILE[1], "s3", "s4", "s5")  # the first two are the good slices
    closed, open_ = planted_values(np.random.default_rng(1), PER, ("s0", "s1"))
    gate = {"scorer": "exact_match", "max_gap": 0.05, "partial": {"allow": True}}
    run = write_partial_run(
        tmp_path / "hostile", PER, {"gpt": closed, "llama": open_}, GROUPS, gate=gate, slice_names=names
    )
    write_report(run)
    doc = _summary(run)
    assert doc["gate"]["routing_rule"]["route"] == {HOSTILE[0]: "llama", HOSTILE[2]: "llama"}
    html = (run / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="partial-migration">') : html.index('<section id="slices">')]
    assert "<script" not in section and 'onmouseover="' not in section
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in section and "&#34; onmouseover=&#34;" in section
    md = (run / "summary.md").read_text(encoding="utf-8")
    part = md[md.index("### Partial migration") : md.index("### Gate rules")]
    assert "<script>" not in part and "&lt;script&gt;" in part
    assert "a\\|b\\`c\\*\\_\\[x\\](y)" in part  # cannot break a table row or open a code span
