"""report.html in a real browser: Debian's headless Chromium driven by Selenium (chromedriver).

A run folder of 3 models x 560 examples (disagreements, errors of both groups, hostile model
output, inputs and slice names) is rendered and opened from file://, then the page is used the way
a person uses it: every section is there and visible, each explorer view and the search box show
exactly the rows the ledger says they should (computed here from samples.jsonl, not typed in),
the pager walks the 560 rows in pages of 500, and the hostile strings stay text — nothing runs, no
alert, no element or handler of theirs, no request, no console error.

Skipped, with a reason naming ``make browser``, when chromium / chromedriver / selenium are
missing — except under ``CI``, where that is a failure. The full-page screenshot goes to
``$EVALKIT_ARTIFACTS_DIR`` (default ``results/test-artifacts/``) as ``report.png``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium, full_page_png, in_ci, missing
from _runfolder import res, write_run

from evalkit.report import write_report
from evalkit.report.html import FILTER_SCRIPT
from evalkit.rundir.ledger import iter_results
from evalkit.scorers.registry import build_scorer
from evalkit.types import ErrorKind, Result, Sample

N = 560  # > 500: the explorer pages
LABELS = ["card", "refund", "fee"]
MODELS = [("gpt", "closed"), ("llama", "open"), ("qwen", "open")]
HOSTILE = [
    "<script>window.__pwned=1</script>",
    "</script><script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '" onmouseover="window.__pwned=1',
    "'><svg onload=window.__pwned=1>",
]
SLICE_NAMES = ["web", HOSTILE[4]]
VIEWS = ["all", "disagreements", "closed-right-open-wrong", "open-right-closed-wrong", "errors"]
SECTIONS = [
    "Verdict",
    "Models",
    "Closed vs open",
    "Gap per slice",
    "Cost vs quality",
    "Slices",
    "Classification · intent",
    "Refusal · refusal",
    "Examples",
    "Manifest",
]
ROOT = Path(__file__).resolve().parent.parent

_WHY = missing()


def _answer(i: int, model: str, expected: str) -> str | ErrorKind:
    """Row i's output: llama answers rows 0-4 with the hostile strings; some requests fail."""
    if model == "llama" and i < len(HOSTILE):
        return HOSTILE[i]
    if model == "qwen" and i % 11 == 3:
        return ErrorKind.SERVER
    if model == "gpt" and i % 53 == 7:
        return ErrorKind.TIMEOUT
    if model == "qwen" and i % 17 == 5:
        return "I cannot help with that."
    wrong = {"gpt": i % 7 == 1, "llama": i % 4 == 2, "qwen": i % 5 == 4}[model]
    return LABELS[(LABELS.index(expected) + 1) % 3] if wrong else expected


def _build(run_dir: Path) -> Path:
    intent = build_scorer("exact_match", {"labels": LABELS})
    refusal = build_scorer("refusal", {})
    rs = []
    for i in range(N):
        expected = LABELS[i % 3]
        question = f"q{i} where is my card? {HOSTILE[i]}" if i < len(HOSTILE) else f"q{i} where is my card?"
        sample = Sample(id=f"s{i:04d}", input=question, expected=expected, fields={"should_refuse": False})
        tags = {"channel": SLICE_NAMES[i % 2]}
        for model, _group in MODELS:
            out = _answer(i, model, expected)
            if isinstance(out, ErrorKind):
                rs.append(res(sample.id, model, error=out, input=question, expected=expected, tags=tags))
                continue
            scores = {"intent": intent(out, sample), "refusal": refusal(out, sample)}
            rs.append(
                res(sample.id, model, text=out, input=question, expected=expected, tags=tags, scores=scores)
            )
    run = write_run(
        run_dir,
        rs,
        models=MODELS,
        scorers=["intent", "refusal"],
        scorer_names={"intent": "exact_match"},
        scorer_args={"intent": {"labels": LABELS}},
        gate={"scorer": "intent", "max_gap": 0.05},
    )
    # prices in run.json, as a suite's `price:` puts them: the report needs no price map (no LiteLLM)
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    for m, rate in zip(manifest["models"], (0.15, 0.05, 0.02), strict=True):
        m["price"] = {"input_per_mtok": rate, "output_per_mtok": rate * 4}
    (run / "run.json").write_text(json.dumps(manifest), encoding="utf-8")
    write_report(run, step_summary=False, index=False)
    return run


@dataclass
class Expected:
    """What the ledger says the explorer must show (the documented rules, applied here)."""

    views: dict[str, list[str]]
    """View -> sample ids in the explorer's order (disagreements first, then ledger order)."""
    text: dict[str, str] = field(default_factory=dict)
    """Sample id -> everything the row shows, for the search."""
    cells: dict[str, dict[str, Result]] = field(default_factory=dict)

    def search(self, needle: str, view: str = "all") -> list[str]:
        return [s for s in self.views[view] if needle.lower() in self.text[s].lower()]


def _expected(run: Path) -> Expected:
    cells: dict[str, dict[str, Result]] = {}
    for r in iter_results(run):
        cells.setdefault(r.sample_id, {})[r.model] = r
    groups = dict(MODELS)
    order: list[str] = []
    cats: dict[str, set[str]] = {}
    text: dict[str, str] = {}
    for sid, by_model in cells.items():
        # count_as_wrong (the default policy): a failed request scores 0
        v = {m: (r.scores["intent"].value if r.completion.ok else 0.0) for m, r in by_model.items()}
        opens = [v[m] for m in v if groups[m] == "open"]
        c = set()
        if len(set(v.values())) > 1:
            c.add("disagreements")
        if any(o < v["gpt"] for o in opens):
            c.add("closed-right-open-wrong")
        if any(o > v["gpt"] for o in opens):
            c.add("open-right-closed-wrong")
        if any(not r.completion.ok for r in by_model.values()):
            c.add("errors")
        cats[sid] = c
        first = next(iter(by_model.values()))
        parts = [sid, *first.tags.values(), first.input or "", str(first.expected)]
        for r in by_model.values():
            err = r.completion.error
            parts.append(r.completion.text or "" if err is None else f"{err.kind}: {err.message}")
            parts += [f"{s.label} {s.explanation}" for s in r.scores.values()]
        text[sid] = " ".join(parts)
    order = [s for s in cells if "disagreements" in cats[s]] + [
        s for s in cells if "disagreements" not in cats[s]
    ]
    views = {v: [s for s in order if v == "all" or v in cats[s]] for v in VIEWS}
    return Expected(views, text, cells)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("browser") / "demo" / "run")


@pytest.fixture(scope="module")
def expected(run: Path) -> Expected:
    return _expected(run)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if _WHY is not None:
        if in_ci():
            pytest.fail(f"browser tests cannot run under CI: {_WHY}", pytrace=False)
        pytest.skip(_WHY)
    with chromium() as d:
        yield d


# --- helpers -------------------------------------------------------------------------------------

VISIBLE_IDS = """return Array.prototype.slice.call(document.querySelectorAll('#examples tbody tr'))
  .filter(function (tr) { return tr.getClientRects().length > 0; })
  .map(function (tr) { return tr.cells[0].firstChild.nodeValue.trim(); });"""


def _open(d: Any, url: str) -> None:
    """Load ``url`` afresh (a new document even if only the hash differs) and wait for the explorer."""
    from selenium.webdriver.support.ui import WebDriverWait

    d.get("about:blank")
    d.get(url)
    WebDriverWait(d, 10, poll_frequency=0.05).until(
        lambda x: (
            x.execute_script("return document.getElementById('examples').getAttribute('data-ready')") == "1"
        )
    )


def _visible(d: Any) -> list[str]:
    ids: list[str] = d.execute_script(VISIBLE_IDS)
    return ids


def _view(d: Any, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(d.find_element(By.ID, "ex-view")).select_by_value(value)


def _search(d: Any, needle: str) -> None:
    """Replace the search box's text by typing, as a person would (each key fires ``input``)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = d.find_element(By.ID, "ex-filter")
    box.send_keys(Keys.CONTROL, "a")  # typing replaces the selection
    box.send_keys(needle or Keys.BACKSPACE)
    assert box.get_property("value") == needle
    # the search applies 150 ms after the last keystroke; the table says which text it applied
    WebDriverWait(d, 5, poll_frequency=0.05).until(
        lambda x: x.find_element(By.ID, "examples").get_attribute("data-search") == needle
    )


def _info(d: Any) -> str:
    from selenium.webdriver.common.by import By

    text: str = d.find_element(By.ID, "ex-info").text
    return text


def _console_clean(d: Any) -> None:
    logs = d.get_log("browser")
    bad = [e for e in logs if e["level"] in ("SEVERE", "WARNING")]
    assert not bad, bad


def _nothing_ran(d: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert d.execute_script("return typeof window.__pwned") == "undefined"
    with pytest.raises(NoAlertPresentException):
        _ = d.switch_to.alert.text
    scripts = d.execute_script(
        "return Array.prototype.map.call(document.scripts, function (s) { return s.text; })"
    )
    assert scripts == [FILTER_SCRIPT], "only the report's own script"
    assert (
        d.execute_script(
            "return document.querySelectorAll('img, iframe, object, embed, a[href^=javascript]').length"
        )
        == 0
    )
    handlers = d.execute_script(
        """var out = [];
        document.querySelectorAll('*').forEach(function (el) {
          for (var i = 0; i < el.attributes.length; i++) {
            if (/^on/i.test(el.attributes[i].name)) { out.push(el.tagName + ' ' + el.attributes[i].name); }
          }
        });
        return out;"""
    )
    assert handlers == []


# --- tests ---------------------------------------------------------------------------------------


def test_every_section_renders_with_its_content(driver: Any, run: Path) -> None:
    _open(driver, (run / "report.html").as_uri())
    shown = driver.execute_script(
        """return Array.prototype.map.call(document.querySelectorAll('section > h2'), function (h) {
             var r = h.parentElement.getBoundingClientRect();
             return [h.textContent.trim(), r.width > 0 && r.height > 0 && getComputedStyle(h.parentElement).visibility === 'visible'];
           });"""
    )
    visible = {title for title, ok in shown if ok}
    for title in SECTIONS:
        assert title in visible, (title, shown)
    # the charts are drawn, not empty boxes
    for sel in ("#slice-chart svg.chart", "#cost-quality svg.scatter", "#gaps svg.bar"):
        box = driver.execute_script(
            "var s = document.querySelector(arguments[0]); var b = s.getBBox(); "
            "return [b.width, b.height, s.querySelectorAll('circle').length];",
            sel,
        )
        assert box[0] > 50 and box[1] > 5 and box[2] >= 1, (sel, box)
    points = driver.execute_script("return document.querySelectorAll('#cost-quality circle.pt').length")
    assert points == len(MODELS)
    names = driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#models tbody tr'), "
        "function (tr) { return tr.cells[0].textContent.trim(); });"
    )
    assert [n.split()[0] for n in names] == [m for m, _ in MODELS]
    csp = driver.execute_script(
        "var m = document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]'); return m && m.content;"
    )
    assert csp is not None and csp.startswith("default-src 'none'") and "script-src 'sha256-" in csp
    # nothing was fetched: a file:// page with no subresource at all
    assert (
        driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        )
        == []
    )
    _console_clean(driver)


def test_each_row_shows_input_expected_every_output_and_every_reason(
    driver: Any, run: Path, expected: Expected
) -> None:
    _open(driver, (run / "report.html").as_uri())
    heads = driver.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#examples thead th'), function (t) { return t.textContent.trim(); });"
    )
    assert heads == ["sample", "input", "expected", *(m for m, _ in MODELS)]
    for sid in ("s0003", "s0014", "s0007"):  # hostile output + qwen error, plain, gpt error
        row = driver.execute_script(
            """var id = arguments[0], tr = Array.prototype.find.call(document.querySelectorAll('#examples tbody tr'),
                 function (t) { return t.cells[0].firstChild.nodeValue.trim() === id; });
               return Array.prototype.map.call(tr.cells, function (td) {
                 return {text: Array.prototype.map.call(td.querySelectorAll('.text'), function (e) { return e.textContent; }),
                         err: Array.prototype.map.call(td.querySelectorAll('.err'), function (e) { return e.textContent; }),
                         scores: Array.prototype.map.call(td.querySelectorAll('.score'), function (e) { return e.textContent; })};
               });""",
            sid,
        )
        by_model = expected.cells[sid]
        first = by_model["gpt"]
        assert row[1]["text"] == [first.input]
        assert row[2]["text"] == [first.expected]
        for col, (model, _g) in enumerate(MODELS, start=3):
            r = by_model[model]
            if r.completion.error is not None:
                assert row[col]["text"] == [] and len(row[col]["err"]) == 1
                assert f"{r.completion.error.kind}: {r.completion.error.message}" in row[col]["err"][0]
                continue
            assert row[col]["text"] == [r.completion.text]
            assert len(row[col]["scores"]) == len(r.scores) == 2
            for shown, (key, score) in zip(row[col]["scores"], r.scores.items(), strict=True):
                assert shown.startswith(key) and shown.endswith(score.explanation), (shown, score)
    assert expected.cells["s0003"]["qwen"].completion.error is not None
    assert expected.cells["s0007"]["gpt"].completion.error is not None


def test_each_view_shows_exactly_the_rows_the_ledger_says(driver: Any, run: Path, expected: Expected) -> None:
    _open(driver, (run / "report.html").as_uri())
    sizes = {v: len(ids) for v, ids in expected.views.items()}
    assert sizes["all"] == N and all(0 < sizes[v] < 500 for v in VIEWS[1:]), sizes
    assert _visible(driver) == expected.views["all"][:500]
    for view in [*VIEWS[1:], "all"]:
        _view(driver, view)
        want = expected.views[view]
        got = _visible(driver)
        assert got == want[:500], (view, len(got), len(want))
        assert driver.execute_script(
            "return document.getElementById('examples').getAttribute('data-shown')"
        ) == str(len(want))
        assert _info(driver).startswith(f"{len(want)} of {N} rows")
        suffix = "" if view == "all" else f" · {len(want)} shown ({view})"
        assert driver.title == f"evalkit · demo · 20261122-101500-a1b2c3{suffix}"
    _console_clean(driver)


def test_the_pager_walks_all_rows_in_pages_of_500(driver: Any, run: Path, expected: Expected) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, (run / "report.html").as_uri())
    nxt, prev = driver.find_element(By.ID, "ex-next"), driver.find_element(By.ID, "ex-prev")
    assert driver.find_element(By.ID, "ex-pager").is_displayed()
    assert _info(driver) == f"{N} of {N} rows · page 1 of 2"
    assert not prev.is_enabled() and nxt.is_enabled()
    first = _visible(driver)
    nxt.click()
    second = _visible(driver)
    assert _info(driver) == f"{N} of {N} rows · page 2 of 2"
    assert first + second == expected.views["all"] and len(first) == 500
    assert prev.is_enabled() and not nxt.is_enabled()
    prev.click()
    assert _visible(driver) == first
    _view(driver, "errors")  # one page: the pager hides, the view starts on page 1
    assert not driver.find_element(By.ID, "ex-pager").is_displayed()
    assert _visible(driver) == expected.views["errors"]
    _console_clean(driver)


def test_search_filters_rows_and_finds_hostile_text_as_text(
    driver: Any, run: Path, expected: Expected
) -> None:
    _open(driver, (run / "report.html").as_uri())
    errors = expected.search("happened")  # every failed request's message, and nothing else
    assert errors == expected.views["errors"]
    cases = [
        ("happened", "all"),
        ("S0042", "all"),  # case-insensitive
        (HOSTILE[0], "all"),  # rows 0 and 1: the second payload contains the first
        (HOSTILE[1], "all"),
        (HOSTILE[3], "all"),
        ("timeout", "errors"),  # with a view
        ("no such text anywhere", "all"),
        ("", "disagreements"),
    ]
    for needle, view in cases:
        _view(driver, view)
        _search(driver, needle)
        want = expected.search(needle, view)
        assert _visible(driver) == want[:500], (needle, view)
        assert _info(driver).startswith(f"{len(want)} of {N} rows")
    assert expected.search(HOSTILE[0]) == ["s0000", "s0001"]
    assert expected.search("S0042") == ["s0042"]
    assert expected.search("no such text anywhere") == []
    assert 0 < len(expected.search("timeout", "errors")) < len(expected.views["errors"])
    _view(driver, "all")
    _search(driver, HOSTILE[1])
    llama = driver.execute_script(
        "var tr = Array.prototype.filter.call(document.querySelectorAll('#examples tbody tr'), "
        "function (t) { return t.getClientRects().length > 0; })[0]; return tr.cells[4].querySelector('.text').textContent;"
    )
    assert llama == HOSTILE[1]
    _nothing_ran(driver)
    _console_clean(driver)


def test_hostile_strings_are_text_and_nothing_runs(driver: Any, run: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _open(driver, (run / "report.html").as_uri())
    for i, payload in enumerate(HOSTILE):
        cells = driver.execute_script(
            """var id = arguments[0], tr = Array.prototype.find.call(document.querySelectorAll('#examples tbody tr'),
                 function (t) { return t.cells[0].firstChild.nodeValue.trim() === id; });
               return [tr.cells[1].querySelector('.text'), tr.cells[4].querySelector('.text'), tr.cells[0]];""",
            f"s{i:04d}",
        )
        question, output, head = cells
        assert question.get_property("textContent") == f"q{i} where is my card? {payload}"
        assert output.get_property("textContent") == payload
        assert output.text == payload  # what is rendered on screen, too
        assert head.get_property("textContent").endswith(f"channel={SLICE_NAMES[i % 2]}")
        for el in (question, output):  # an injected onmouseover would fire now
            ActionChains(driver).move_to_element(el).perform()
    # the hostile slice name is drawn as SVG text, not markup
    labels = [
        e.get_property("textContent") for e in driver.find_elements(By.CSS_SELECTOR, "#slice-chart svg text")
    ]
    assert any(HOSTILE[4] in t for t in labels), labels
    h3 = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#slices h3")]
    assert f"channel={HOSTILE[4]}" in h3
    assert driver.execute_script("return document.querySelectorAll('svg').length") == driver.execute_script(
        "return document.querySelectorAll('svg.chart, svg.bar').length"
    ), "every svg is one of the report's charts"
    _nothing_ran(driver)
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    _console_clean(driver)


def test_a_filter_link_opens_that_view(driver: Any, run: Path, expected: Expected) -> None:
    for view in VIEWS[1:]:
        _open(driver, (run / "report.html").as_uri() + f"#filter={view}")
        want = expected.views[view]
        assert _visible(driver) == want
        assert driver.title.endswith(f" · {len(want)} shown ({view})")
        assert driver.execute_script("return document.getElementById('ex-view').value") == view
    _console_clean(driver)


def test_full_page_screenshot_artifact(driver: Any, run: Path) -> None:
    """The whole report (the explorer on its *errors* view, so the page stays a few screens long)."""
    _open(driver, (run / "report.html").as_uri())
    _view(driver, "errors")
    png = full_page_png(driver)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    height = int.from_bytes(png[20:24], "big")
    page = driver.execute_script("return document.documentElement.scrollHeight")
    assert height >= page > 2000, (height, page)  # beyond the 900-pixel window: the full page
    out = Path(os.environ.get("EVALKIT_ARTIFACTS_DIR") or ROOT / "results" / "test-artifacts")
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.png").write_bytes(png)
