"""summary.json (against docs/summary.schema.json), summary.md, junit.xml, the report's verdict,
charts and explorer, and the results folder's index.html."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _runfolder import res, write_run

from evalkit.report import write_report
from evalkit.report.html import FILTER_SCRIPT
from evalkit.report.junit import xml_text
from evalkit.report.markdown import MAX_BYTES, md_escape, truncate
from evalkit.report.verdict import pareto_front
from evalkit.types import ErrorKind

SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "summary.schema.json").read_text(encoding="utf-8"))
HOSTILE = "<script>alert(1)</script> | `x` </script> <img src=x onerror=alert(1)> \"'> \x00\x07\x1b\n# h"


def _run(
    tmp_path: Path,
    *,
    gate: dict[str, Any] | None = None,
    open_correct: int = 3,
    n: int = 40,
    name: str = "llama",
    text: str = "answer",
    **kw: Any,
) -> Path:
    """``n`` examples; the closed model is right on all, the open one on ``open_correct`` of every 4."""
    rs = []
    for i in range(n):
        tag = {"t": "a" if i % 2 else "b"}
        rs += [
            res(f"s{i}", "gpt", 1.0, tags=tag, cost=0.002, latency=0.4),
            res(
                f"s{i}",
                name,
                1.0 if i % 4 < open_correct else 0.0,
                tags=tag,
                cost=0.0005,
                latency=1.2,
                text=text,
            ),
        ]
    kw.setdefault("models", [("gpt", "closed"), (name, "open")])
    return write_run(
        tmp_path / "results" / "demo" / "run1",
        rs,
        gate=gate or {"scorer": "exact_match", "max_gap": 0.3},
        **kw,
    )


def _validate(run: Path) -> dict[str, Any]:
    doc = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return doc


def test_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize(
    ("gate", "open_correct", "verdict", "overall", "exit_code"),
    [
        ({"max_gap": 0.3}, 4, "migrate", "migrate", 0),
        ({"max_gap": 0.3}, 3, "inconclusive", "inconclusive", 4),
        ({"max_gap": 0.01}, 2, "stay", "stay", 1),
        ({"min_score": {"closed": 1.1}}, 4, "stay", "stay", 1),
    ],
)
def test_summary_json_validates_and_carries_the_decision(
    tmp_path: Path, gate: dict[str, Any], open_correct: int, verdict: str, overall: str, exit_code: int
) -> None:
    run = _run(tmp_path, gate={"scorer": "exact_match", **gate}, open_correct=open_correct)
    write_report(run)
    doc = _validate(run)
    assert doc["verdict"]["verdict"] == verdict and doc["verdict"]["exit_code"] == exit_code
    assert doc["gate"]["overall"] == overall and doc["gate"]["exit_code"] == exit_code
    assert doc["best_closed"] == "gpt" and [m["name"] for m in doc["models"]] == ["gpt", "llama"]
    gpt, llama = doc["models"]
    assert gpt["cost_usd"] == pytest.approx(0.08) and gpt["cost_per_1k_examples_usd"] == pytest.approx(2.0)
    assert llama["latency_p50_s"] == pytest.approx(1.2) and gpt["tokens"]["input"] == 400
    assert gpt["scores"]["exact_match"]["ci_method"] == "wilson"
    (g_all, *g_slices) = doc["gaps"]
    assert g_all["slice"] == "all" and {g["slice"] for g in g_slices} == {"t=a", "t=b"}
    assert g_all["p_holm"] is not None and g_all["ci_low"] <= g_all["gap"] <= g_all["ci_high"]
    assert "gap gpt − llama" in doc["verdict"]["sentence"]
    assert f"[{g_all['ci_low']:.3f}, {g_all['ci_high']:.3f}]" in doc["verdict"]["sentence"]
    assert doc["scorer_metrics"]["gpt"]["exact_match"]


def test_summary_json_unknown_cost_is_null_and_odd_runs_validate(tmp_path: Path) -> None:
    rs = [res("s0", "gpt", 1.0, cost=None), res("s0", "llama", error=ErrorKind.SERVER)]
    run = write_run(
        tmp_path / "run",
        rs,
        models=[
            ("gpt", "closed"),
            ("llama", "open"),
            ("claude", "closed", "skipped", "set ANTHROPIC_API_KEY"),
        ],
        status="interrupted",
    )
    write_report(run)
    doc = _validate(run)
    models = {m["name"]: m for m in doc["models"]}
    assert models["gpt"]["cost_usd"] is None and models["gpt"]["cost_per_1k_examples_usd"] is None
    assert models["claude"]["status"] == "skipped" and models["claude"]["requests"] == 0
    assert doc["verdict"]["verdict"] == "cannot decide" and doc["gate"]["exit_code"] == 3

    empty = write_run(tmp_path / "empty", [], models=[("gpt", "closed", "skipped", "no key")])
    write_report(empty)
    assert _validate(empty)["gaps"] == []


def test_summary_json_without_a_gate_validates(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [res("s0", "gpt"), res("s0", "llama")], gate={"max_gap": "wide"})
    write_report(run)
    doc = _validate(run)
    assert doc["gate"] is None and doc["verdict"]["verdict"] == "no gate"
    assert any("gate not evaluated" in w for w in doc["warnings"])


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("a|b", "|"),
        ("<b>x</b>", "<"),
        ("`code`", "`"),
        ("line1\nline2", "\n"),
        ("[x](javascript:1)", "]("),
        ("**bold**", "**"),
    ],
)
def test_md_escape(text: str, bad: str) -> None:
    out = md_escape(text)
    assert bad not in out.replace("\\" + bad[0], "").replace("\\*", "")


def test_summary_md_escapes_names_and_never_shows_output(tmp_path: Path) -> None:
    run = _run(tmp_path, name="ev|il<img src=x>`n`\nx", text="SECRET-OUTPUT <script>")
    write_report(run)
    md = (run / "summary.md").read_text(encoding="utf-8")
    assert "SECRET-OUTPUT" not in md and "<img" not in md and "<script" not in md
    assert "ev\\|il&lt;img src=x&gt;\\`n\\` x" in md
    counts: list[int] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            counts.append(len(re.findall(r"(?<!\\)\|", line)))
        elif counts:
            assert len(set(counts)) == 1, counts  # every row of a table has the header's columns
            counts = []
    assert "**demo: inconclusive" in md and "### Gate rules" in md and "max\\_gap" in md


def test_summary_md_truncation() -> None:
    text = "\n".join("| row | é |" for _ in range(200_000))
    out = truncate(text)
    assert len(out.encode("utf-8")) <= MAX_BYTES and out.endswith("see summary.json and report.html.*\n")
    assert truncate("short") == "short"


def test_step_summary_is_appended_when_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "step.md"
    target.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    run = _run(tmp_path)
    write_report(run)
    write_report(run, step_summary=False)
    text = target.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## evalkit: demo")
    assert text.count("## evalkit: demo") == 1
    assert text[len("earlier step\n") :] == (run / "summary.md").read_text(encoding="utf-8")


def test_cli_report_appends_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.cli import main

    target = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    run = _run(tmp_path)
    assert main(["report", str(run)]) == 0
    assert "## evalkit: demo" in target.read_text(encoding="utf-8")


def _junit(run: Path) -> ET.Element:
    return ET.fromstring((run / "junit.xml").read_bytes())


@pytest.mark.parametrize(
    ("gate", "open_correct", "verdict_child", "failures", "errors"),
    [
        ({"max_gap": 0.3}, 4, None, 0, 0),
        ({"max_gap": 0.3}, 3, "failure", 2, 0),
        ({"max_gap": 0.01}, 2, "failure", 2, 0),
    ],
)
def test_junit_cases_per_task_and_rule(
    tmp_path: Path,
    gate: dict[str, Any],
    open_correct: int,
    verdict_child: str | None,
    failures: int,
    errors: int,
) -> None:
    run = _run(tmp_path, gate={"scorer": "exact_match", **gate}, open_correct=open_correct)
    write_report(run)
    root = _junit(run)
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "verdict: demo"
    assert [c.get("name") for c in cases[1:]] == ["run_status", "infrastructure", "max_gap llama"]
    kid = cases[0].find("failure")
    assert (kid is not None) == (verdict_child == "failure")
    assert suite.get("tests") == str(len(cases)) == root.get("tests")
    assert (suite.get("failures"), suite.get("errors")) == (str(failures), str(errors))
    if gate["max_gap"] == 0.3 and open_correct == 3:
        assert (
            kid is not None
            and kid.get("type") == "inconclusive"
            and "inconclusive" in (kid.get("message") or "")
        )


def test_junit_infrastructure_is_an_error_and_text_is_escaped(tmp_path: Path) -> None:
    bad = "gpt<&>\"'\x00\x01\x1b"
    rs = [res("s0", bad, 1.0), res("s0", "llama", error=ErrorKind.SERVER)]
    run = write_run(tmp_path / "run", rs, models=[(bad, "closed"), ("llama", "open")])
    write_report(run)
    root = _junit(run)
    cases = root.findall("testsuite/testcase")
    assert cases[0].find("error") is not None
    infra = next(c for c in cases if c.get("name") == "infrastructure")
    assert infra.find("error") is not None and infra.find("error").get("type") == "infrastructure"  # type: ignore[union-attr]
    assert root.get("errors") == "2"
    raw = (run / "junit.xml").read_bytes()
    assert b"\x00" not in raw and b"\x1b" not in raw


def test_xml_text_strips_invalid_characters() -> None:
    assert xml_text("a\x00b\x08c\td\ne\ud800f\ufffe") == "abc\td\nef"
    assert xml_text(None) == ""


def test_html_top_verdict_charts_and_explorer(tmp_path: Path) -> None:
    run = _run(tmp_path, open_correct=3)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    top = html.index('id="task-verdict"')
    assert top < html.index('id="models"') and 'data-verdict="inconclusive"' in html
    assert "demo: inconclusive" in html[top : top + 600]
    chart = html[html.index('id="slice-chart"') : html.index('id="cost-quality"')]
    assert chart.count("<circle") == 3 and "t=a · llama" in chart and 'class="thr"' in chart
    scatter = html[html.index('id="cost-quality"') : html.index('id="slices"')]
    assert scatter.count('class="pt ') == 2 and "<polyline" in scatter
    assert "per 1,000 examples" in html and "$2.0000" in html and "$0.5000" in html
    for value in ("all", "disagreements", "closed-right-open-wrong", "open-right-closed-wrong", "errors"):
        assert f'<option value="{value}">' in html
    assert html.count('data-cat="disagreements closed-right-open-wrong"') == 10
    assert "PAGE = 500" in FILTER_SCRIPT and 'setAttribute("data-ready", "1")' in FILTER_SCRIPT


def test_html_no_cost_known_says_so(tmp_path: Path) -> None:
    rs = [r for i in range(3) for r in (res(f"s{i}", "gpt", cost=None), res(f"s{i}", "llama", cost=None))]
    run = write_run(tmp_path / "run", rs)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "No model has a known cost" in html


def test_html_error_rows_are_in_the_errors_view(tmp_path: Path) -> None:
    rs = [
        res("s0", "gpt", 0.0),
        res("s0", "llama", error=ErrorKind.TIMEOUT),
        res("s1", "gpt", 0.0),
        res("s1", "llama", 1.0),
    ]
    run = write_run(tmp_path / "run", rs)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert 'data-cat="errors"' in html
    assert 'data-cat="disagreements open-right-closed-wrong"' in html


def test_pareto_front() -> None:
    pts = [("a", 1.0, 0.9), ("b", 0.5, 0.8), ("c", 0.6, 0.7), ("d", 2.0, 0.9), ("e", 0.1, 0.1)]
    assert pareto_front(pts) == {"a", "b", "e"}


def test_results_index_lists_every_run_escaped(tmp_path: Path) -> None:
    first = _run(tmp_path)
    write_report(first)
    bad = "<b>x&y\"'"
    other = write_run(tmp_path / "results" / bad / "run9", [res("s0", "gpt"), res("s0", "llama")])
    manifest = json.loads((other / "run.json").read_text(encoding="utf-8"))
    manifest["suite"]["name"] = bad
    manifest["started_at"] = "2026-11-23T00:00:00Z"
    (other / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    paths = write_report(other)
    index = tmp_path / "results" / "index.html"
    assert paths[-1] == index
    html = index.read_text(encoding="utf-8")
    assert "<b>" not in html and "&lt;b&gt;x&amp;y&#34;&#39;" in html
    assert html.index("run9") < html.index("run1")
    assert 'href="./demo/run1/report.html"' in html and "./%3Cb%3Ex%26y%22%27/run9/report.html" in html
    assert "inconclusive" in html and "<script" not in html


def test_no_index_outside_a_results_layout(tmp_path: Path) -> None:
    run = write_run(tmp_path / "custom-output", [res("s0", "gpt"), res("s0", "llama")])
    assert [p.name for p in write_report(run)][-1] == "junit.xml"
    assert not (tmp_path / "index.html").exists()


def test_a_lone_surrogate_in_model_output_does_not_break_the_report(tmp_path):
    from _runfolder import res, write_run

    from evalkit.report import write_report

    run_dir = tmp_path / "results" / "demo" / "run1"
    write_run(run_dir, [res("a", "gpt", text="bad \ud800 text"), res("a", "llama", text="fine")])
    paths = write_report(run_dir)
    assert (run_dir / "report.html").read_text(encoding="utf-8")
    assert all(p.exists() for p in paths)


def test_samples_csv_one_row_per_cell_neutralised_and_complete(tmp_path):
    import pandas as pd
    from _runfolder import res, write_run

    from evalkit.report import write_report
    from evalkit.types import ErrorKind

    run_dir = tmp_path / "results" / "demo" / "run1"
    write_run(
        run_dir,
        [
            res("a", "gpt", text='=HYPERLINK("http://x","y")'),
            res("a", "llama", text="-1+2", value=0.0),
            res("b", "gpt", text="fine"),
            res("b", "llama", error=ErrorKind.TIMEOUT, text=None, cost=None),
        ],
    )
    write_report(run_dir)
    frame = pd.read_csv(run_dir / "samples.csv", keep_default_na=False)
    assert len(frame) == 4
    assert list(frame.columns[:4]) == ["sample_id", "model", "group", "epoch"]
    by = {(r.sample_id, r.model): r for r in frame.itertuples()}
    assert by[("a", "gpt")].output.startswith("'=HYPERLINK")
    assert by[("a", "llama")].output == "'-1+2"
    assert by[("b", "llama")].error_kind == "timeout" and by[("b", "llama")].exact_match_value == ""
    assert by[("a", "gpt")].group == "closed" and float(by[("a", "gpt")].exact_match_value) == 1.0
