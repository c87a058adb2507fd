"""evalkit.report: summary.csv, gaps.csv and a self-contained, escaped report.html."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from _runfolder import res, write_run

from evalkit._util.spreadsheet import neutralise
from evalkit.report import write_report
from evalkit.report.csv import GAPS_COLUMNS, SUMMARY_COLUMNS
from evalkit.report.examples import pick_cells
from evalkit.report.scorer_views import TOP_PAIRS
from evalkit.scorers import build_scorer
from evalkit.types import ErrorKind, Sample, Score

HOSTILE = [
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "<img src=x onerror=alert(1)>",
    "\"'><b>bold</b>",
    '<a href="https://evil.example/x">link</a>',
    "{{ 7*7 }}",
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _basic_run(tmp_path: Path, **kw: object) -> Path:
    rs = []
    for i in range(4):
        rs += [res(f"s{i}", "gpt", 1.0), res(f"s{i}", "llama", 1.0 if i % 2 else 0.0, cost=None)]
    return write_run(tmp_path / "run", rs, **kw)  # type: ignore[arg-type]


def test_writes_three_files_with_the_documented_columns(tmp_path: Path) -> None:
    run = _basic_run(tmp_path)
    paths = write_report(run)
    assert [p.name for p in paths] == [
        "summary.csv",
        "samples.csv",
        "gaps.csv",
        "gaps.json",
        "scorer_metrics.json",
        "report.html",
        "summary.json",
        "summary.md",
        "junit.xml",
    ]
    with (run / "summary.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == SUMMARY_COLUMNS
    with (run / "gaps.csv").open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == GAPS_COLUMNS
    (gap,) = _rows(run / "gaps.csv")
    assert (gap["closed_model"], gap["open_model"], gap["gap"], gap["n_pairs"]) == (
        "gpt",
        "llama",
        "0.5",
        "4",
    )
    assert gap["p_value"] == "0.5" and gap["discordant_closed_only"] == "2" and "seed" in gap["method"]
    assert (gap["p_holm"], gap["holm_family"], gap["p_method"]) == ("0.5", "1", "McNemar exact")
    assert (gap["n_examples"], gap["reliable"], gap["open_errors"]) == ("4", "False", "0")


def test_report_is_regenerated_identically(tmp_path: Path) -> None:
    run = _basic_run(tmp_path)
    write_report(run)
    names = ("summary.csv", "gaps.csv", "gaps.json", "scorer_metrics.json", "report.html")
    first = [(run / n).read_bytes() for n in names]
    write_report(run)
    assert [(run / n).read_bytes() for n in names] == first


def test_unknown_cost_is_empty_in_csv_and_said_in_html(tmp_path: Path) -> None:
    run = _basic_run(tmp_path)
    write_report(run)
    rows = {r["model"]: r for r in _rows(run / "summary.csv")}
    assert rows["llama"]["cost_usd"] == "" and rows["llama"]["cost_known_rows"] == "0"
    assert float(rows["gpt"]["cost_usd"]) == pytest.approx(0.004) and rows["gpt"]["cost_known_rows"] == "4"
    assert "unknown for 4 of 4" in (run / "report.html").read_text(encoding="utf-8")


def test_skipped_model_is_shown_with_its_reason(tmp_path: Path) -> None:
    run = _basic_run(
        tmp_path,
        models=[
            ("gpt", "closed"),
            ("llama", "open"),
            ("claude", "closed", "skipped", "set ANTHROPIC_API_KEY"),
        ],
    )
    write_report(run)
    rows = {r["model"]: r for r in _rows(run / "summary.csv")}
    assert rows["claude"]["n"] == "0" and rows["claude"]["mean"] == ""
    assert rows["claude"]["status"] == "skipped: set ANTHROPIC_API_KEY"
    assert "skipped: set ANTHROPIC_API_KEY" in (run / "report.html").read_text(encoding="utf-8")


def test_no_closed_model_is_said_plainly(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run",
        [res("s0", "llama")],
        models=[("gpt", "closed", "skipped", "set OPENAI_API_KEY"), ("llama", "open")],
    )
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "No closed model ran (gpt: skipped: set OPENAI_API_KEY)" in html
    assert _rows(run / "gaps.csv") == []


def test_empty_run_still_reports(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run", [], status="failed", models=[("gpt", "closed", "skipped", "set OPENAI_API_KEY")]
    )
    (run / "samples.jsonl").unlink()
    write_report(run)
    assert "No scored example" in (run / "report.html").read_text(encoding="utf-8")


def test_hostile_text_is_escaped_and_nothing_loads(tmp_path: Path) -> None:
    rs = []
    for i, bad in enumerate(HOSTILE):
        rs += [
            res(f"s{i}", "gpt", 1.0, text=bad, input=bad, expected=bad, explanation=bad, tags={"t": bad}),
            res(f"s{i}", "llama", 0.0, text=bad, explanation=bad),
        ]
    rs.append(res("s99", "llama", error=ErrorKind.BAD_RESPONSE))
    run = write_run(tmp_path / "run", rs)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    for bad in HOSTILE[:5]:
        assert bad not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#34;&#39;&gt;&lt;b&gt;" in html

    parser = _Tags()
    parser.feed(html)
    names = [t for t, _ in parser.tags]
    assert "img" not in names and "b" not in names and "a" not in names and "iframe" not in names
    assert names.count("script") == 1
    for tag, attrs in parser.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        for key in ("src", "href", "action", "srcset"):
            assert key not in attrs, (tag, attrs)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert "@import" not in html and "url(" not in html


def test_content_security_policy_and_script_hash(tmp_path: Path) -> None:
    run = _basic_run(tmp_path)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(html)
    metas = [
        a
        for t, a in parser.tags
        if t == "meta" and (a.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert len(metas) == 1
    csp = metas[0]["content"] or ""
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-")
    script = "".join(parser.script_text)
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_csv_formula_injection_is_neutralised(tmp_path: Path) -> None:
    bad = '=HYPERLINK("http://x")'
    rs = [res("s0", "gpt", 0.0), res("s0", bad, 1.0), res("s0", "@evil", 1.0)]
    run = write_run(
        tmp_path / "run",
        rs,
        models=[("gpt", "closed"), (bad, "open"), ("@evil", "open"), ("q", "open", "skipped", "-set Q_KEY")],
    )
    write_report(run)
    rows = _rows(run / "summary.csv")
    assert [r["model"] for r in rows] == ["gpt", "'" + bad, "'@evil", "q"]
    assert rows[-1]["status"] == "skipped: -set Q_KEY"  # does not start with a formula character
    gaps = _rows(run / "gaps.csv")
    assert [g["open_model"] for g in gaps] == ["'" + bad, "'@evil"]
    # numbers are not strings: a negative gap stays a plain negative number
    assert [g["gap"] for g in gaps] == ["-1.0", "-1.0"]
    assert [g["ci_low"] for g in gaps] == ["-1.0", "-1.0"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (-0.5, -0.5),
        (3, 3),
        (None, None),
    ],
)
def test_neutralise(value: object, expected: object) -> None:
    assert neutralise(value) == expected


def test_slice_value_starting_with_equals_is_neutralised(tmp_path: Path) -> None:
    rs = [res("s0", "gpt", tags={"=cmd": "x"}), res("s0", "llama", tags={"=cmd": "x"})]
    run = write_run(tmp_path / "run", rs)
    write_report(run)
    assert {r["slice"] for r in _rows(run / "summary.csv")} == {"all", "'=cmd=x"}
    assert {g["slice"] for g in _rows(run / "gaps.csv")} == {"all", "'=cmd=x"}


def test_examples_disagreements_first_and_limited() -> None:
    values = {
        ("a", 0): {"gpt": 1.0, "llama": 1.0},
        ("b", 0): {"gpt": 1.0, "llama": 0.0},
        ("c", 0): {"gpt": 1.0},
        ("d", 0): {"gpt": 0.0, "llama": 0.0},
    }
    assert pick_cells(values, 10) == [
        (("b", 0), True),
        (("c", 0), True),
        (("a", 0), False),
        (("d", 0), False),
    ]
    assert pick_cells(values, 1) == [(("b", 0), True)]


def test_html_examples_show_outputs_and_explanations(tmp_path: Path) -> None:
    rs = [
        res("s0", "gpt", 1.0, text="card_arrival", explanation="matches expected"),
        res("s0", "llama", 0.0, text="lost_card", explanation="expected card_arrival"),
        res("s1", "gpt", 1.0),
        res("s1", "llama", error=ErrorKind.RATE_LIMIT),
    ]
    run = write_run(tmp_path / "run", rs)
    write_report(run, example_limit=5)
    html = (run / "report.html").read_text(encoding="utf-8")
    for text in ("card_arrival", "lost_card", "matches expected", "expected card_arrival", "rate_limit"):
        assert text in html
    assert html.count('data-disagree="1"') == 2


def test_report_with_a_gate_scorer_that_has_no_results(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run", [res("s0", "gpt"), res("s0", "llama")], gate={"scorer": "nope", "max_gap": 0.1}
    )
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "The gate scorer &#39;nope&#39; has no results" in html and "CANNOT DECIDE" in html


# --- scorer sections and scorer_metrics.json ---------------------------------------------------


def _score(name: str, args: dict[str, Any], output: str, expected: Any = None, **fields: Any) -> Score:
    return build_scorer(name, args)(output, Sample(id="x", input="q", expected=expected, fields=fields))


def _scorer_run(tmp_path: Path, labels: list[str], rows: list[tuple[str, str]]) -> Path:
    """Three scorers on each row: exact_match with labels, json_valid, refusal."""
    la = {"labels": labels}
    rs = []
    for i, (exp, out) in enumerate(rows):
        for model, text in (("gpt", exp), ("llama", out)):
            obj = json.dumps({"label": text})
            scores = {
                "intent": _score("exact_match", la, text, exp),
                "json_valid": _score("json_valid", {}, obj if model == "gpt" else f"```json\n{obj}\n```"),
                "refusal": _score("refusal", {}, text, should_refuse=i % 2 == 0),
            }
            rs.append(res(f"s{i}", model, text=text, expected=exp, input=out, scores=scores))
    return write_run(
        tmp_path / "run",
        rs,
        scorers=["intent", "json_valid", "refusal"],
        scorer_names={"intent": "exact_match"},
        scorer_args={"intent": la},
        params={"gpt": {"response_format": {"type": "json_object"}}, "llama": {"temperature": 0}},
    )


def test_scorer_sections_and_metrics_file(tmp_path: Path) -> None:
    labels = ["cat", "dog", "bird"]
    run = _scorer_run(tmp_path, labels, [("cat", "cat"), ("cat", "dog"), ("dog", "dog"), ("bird", "fish")])
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    for text in (
        "Classification · intent",
        "expected ↓ / predicted →",  # 3 classes: the whole matrix
        "macro-F1",
        "per-class F1",
        "JSON · json_valid",
        "strict valid",
        "constrained (response_format)",
        "unconstrained",
        "response_format (json_object)",
        "Refusal · refusal",
        "over-refusal",
        "under-refusal",
        "balanced accuracy",
        "json_valid: honoured on every row",
    ):
        assert text in html, text
    doc = json.loads((run / "scorer_metrics.json").read_text(encoding="utf-8"))
    assert (
        doc["format"] == 1
        and doc["run_id"]
        and [s["key"] for s in doc["scorers"]]
        == [
            "intent",
            "json_valid",
            "refusal",
        ]
    )
    llama = doc["models"]["llama"]
    assert llama["structured_output"] == {"requested": False, "response_format_type": None}
    assert doc["models"]["gpt"]["structured_output"] == {
        "requested": True,
        "response_format_type": "json_object",
    }
    # cat: P 1/1, R 1/2 -> F1 2/3; dog: P 1/2, R 1/1 -> F1 2/3; bird: never predicted -> F1 0
    assert llama["scorers"]["intent"]["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0.0) / 3)
    assert llama["scorers"]["json_valid"]["strict_valid_rate"] == 0.0
    assert llama["scorers"]["json_valid"]["lenient_valid_rate"] == 1.0
    assert doc["models"]["gpt"]["scorers"]["json_valid"]["strict_valid_rate"] == 1.0
    assert llama["scorers"]["refusal"]["kind"] == "refusal"
    rows = {r["model"]: r for r in _rows(run / "summary.csv") if r["scorer"] == "intent"}
    assert rows["gpt"]["response_format"] == "json_object" and rows["llama"]["response_format"] == ""


def test_large_confusion_matrix_shows_the_top_pairs(tmp_path: Path) -> None:
    labels = [f"label_{i:02d}" for i in range(20)]
    rows = [(labels[i], labels[(i + 1) % 20]) for i in range(20)] + [(labels[0], labels[1])]
    run = _scorer_run(tmp_path, labels, rows)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "expected ↓ / predicted →" not in html
    assert f"the {TOP_PAIRS} most frequent confusions" in html
    # the most frequent pair comes first
    top = html.index('<td>label_00</td><td>label_01</td><td class="num">2</td>')
    assert top > 0


def test_hostile_labels_and_outputs_in_scorer_sections_are_escaped(tmp_path: Path) -> None:
    labels = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "plain"]
    rows = [
        (labels[0], labels[1]),
        (labels[1], labels[0]),
        ("plain", "<b>plain</b> or <script>alert(1)</script>"),
    ]
    run = _scorer_run(tmp_path, labels, rows)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    for bad in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>plain</b>"):
        assert bad not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    parser = _Tags()
    parser.feed(html)
    names = [t for t, _ in parser.tags]
    assert "img" not in names and "b" not in names and names.count("script") == 1
    doc = json.loads((run / "scorer_metrics.json").read_text(encoding="utf-8"))
    assert labels[0] in doc["models"]["llama"]["scorers"]["intent"]["confusion"]


def test_report_reads_old_ledger_lines_without_meta(tmp_path: Path) -> None:
    line = {
        "sample_id": "s0",
        "model": "gpt",
        "epoch": 0,
        "input": "q",
        "expected": "a",
        "completion": {"text": "a"},
        "scores": {"exact_match": {"value": 1.0, "answer": "a", "explanation": "ok", "label": "correct"}},
    }
    run = write_run(tmp_path / "run", extra=json.dumps(line) + "\n")
    write_report(run)
    doc = json.loads((run / "scorer_metrics.json").read_text(encoding="utf-8"))
    assert doc["models"]["gpt"]["scorers"]["exact_match"] == {
        "kind": "counts",
        "n": 1,
        "class_counts": {"correct": 1},
    }


# --- gaps.json, Holm, epochs and the gate's three outcomes in the report ---------------------


def _two_by_two_run(tmp_path: Path, n: int = 60, **kw: Any) -> Path:
    rs = []
    for i in range(n):
        for e in range(2):
            tags = {"type": "a" if i % 2 else "b"}
            rs += [
                res(f"s{i}", "gpt", 1.0 if i % 10 else 0.0, epoch=e, tags=tags),
                res(f"s{i}", "claude", 1.0 if i % 5 else 0.0, epoch=e, tags=tags),
                res(f"s{i}", "llama", 1.0 if (i + e) % 4 else 0.0, epoch=e, tags=tags),
                res(f"s{i}", "qwen", 1.0 if i % 3 else 0.0, epoch=e, tags=tags),
            ]
    models = [("gpt", "closed"), ("claude", "closed"), ("llama", "open"), ("qwen", "open")]
    return write_run(tmp_path / "run", rs, models=models, **kw)


def test_gaps_json_has_the_matrix_and_the_corrected_rows(tmp_path: Path) -> None:
    run = _two_by_two_run(tmp_path, gate={"scorer": "exact_match", "max_gap": 0.05})
    write_report(run)
    doc = json.loads((run / "gaps.json").read_text(encoding="utf-8"))
    assert doc["format"] == 1 and doc["best_closed"] == "gpt" and doc["epochs"] == 2
    assert doc["task_hash"] == "t" * 64 and doc["dataset_sha256"] == "d" * 64 and doc["margin"] == 0.05
    assert doc["statistics"]["n_resamples"] >= 10_000 and doc["statistics"]["seed"] is not None
    assert len(doc["matrix"]) == 2 * 2 * 3  # closed x open x (all + 2 slices)
    assert {(r["closed_model"], r["open_model"]) for r in doc["matrix"]} == {
        ("gpt", "llama"),
        ("gpt", "qwen"),
        ("claude", "llama"),
        ("claude", "qwen"),
    }
    assert all("p_holm" not in r for r in doc["matrix"])
    best = doc["best_closed_vs_open"]
    assert len(best) == 6 and all(r["holm_family"] == 6 and r["p_holm"] >= r["p_value"] for r in best)
    assert all(
        r["p_method"] == "clustered McNemar" and r["n_examples"] == 60 for r in best if r["slice"] == "all"
    )
    llama = next(r for r in best if r["open_model"] == "llama" and r["slice"] == "all")
    assert llama["plan"]["margin"] == 0.05 and "with 60 examples the gap interval is" in llama["plan"]["text"]
    assert doc["models"]["llama"]["flip_rates"]["exact_match"]["rate"] == pytest.approx(0.5)
    assert doc["models"]["gpt"]["flip_rates"]["exact_match"]["rate"] == 0.0
    # gaps.csv carries the same corrected p-values and the examples needed
    rows = {(r["open_model"], r["slice"]): r for r in _rows(run / "gaps.csv")}
    assert float(rows[("llama", "all")]["p_holm"]) == pytest.approx(llama["p_holm"])
    assert rows[("llama", "all")]["n_needed"] == str(llama["plan"]["n_needed"] or "")


def test_html_says_which_p_values_are_corrected_and_shows_flip_rates(tmp_path: Path) -> None:
    run = _two_by_two_run(tmp_path, gate={"scorer": "exact_match", "max_gap": 0.05})
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "p (Holm) is each p-value Holm-corrected over its scorer" in html
    assert "6 for exact_match" in html and "p is uncorrected" in html
    assert "flip rate" in html and "50.0%" in html
    assert "cluster bootstrap" in html and "examples needed" in html
    summary = {(r["model"], r["slice"]): r for r in _rows(run / "summary.csv")}
    assert summary[("llama", "all")]["flip_rate"] == "0.5" and summary[("llama", "all")]["n_examples"] == "60"
    assert summary[("llama", "all")]["ci_method"] == "cluster bootstrap"


@pytest.mark.parametrize(
    ("gate", "css", "text"),
    [
        ({"max_gap": 0.3}, "verdict pass", "MIGRATE to"),
        ({"max_gap": 0.15}, "verdict inconclusive", "INCONCLUSIVE"),
        ({"max_gap": 0.15, "inconclusive": "pass"}, "verdict inconclusive", "so it exits 0"),
        ({"max_gap": 0.001}, "verdict fail", "no open model can take over"),
        ({"min_score": {"open": 0.99}}, "verdict fail", "STAY"),
    ],
)
def test_html_verdict_classes(tmp_path: Path, gate: dict[str, Any], css: str, text: str) -> None:
    run = _two_by_two_run(tmp_path, gate={"scorer": "exact_match", **gate})
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert f'class="{css}"' in html and text in html


def test_small_runs_are_marked_unreliable(tmp_path: Path) -> None:
    run = _basic_run(tmp_path)
    write_report(run)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "fewer than 30 examples: the interval is unreliable" in html
    assert "4 †" in html
