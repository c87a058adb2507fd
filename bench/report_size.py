"""Report size and load time for 10,000 samples x 4 models (a benchmark, not a test).

Builds a synthetic run folder (2 closed + 2 open models, realistic output lengths, 5 % errors,
some disagreements), times ``write_report`` (everything regenerated from the folder), then opens
report.html from file:// in headless Chromium driven by Selenium through Debian's chromedriver (the
same driver as tests/test_browser.py; ``make browser`` installs both) and records, as the median
of LOADS fresh loads: DOMContentLoaded, first contentful paint, the load event and the explorer
being ready (its script has run and the page answers a script call), each from navigation start;
then, on the loaded page, how long the explorer takes to switch views, to apply a search, and to
turn a page (each from the event to the end of the re-layout it causes). Writes
``bench/report_size.md``. Run: ``.venv/bin/python bench/report_size.py`` (about two minutes).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _runfolder import manifest, res  # noqa: E402

from evalkit.report import write_report  # noqa: E402
from evalkit.types import ErrorKind  # noqa: E402

N = 10_000
MODELS = (("gpt-4o-mini", "closed"), ("claude-haiku", "closed"), ("llama-70b", "open"), ("qwen-32b", "open"))
SKILL = {"gpt-4o-mini": 0.9, "claude-haiku": 0.88, "llama-70b": 0.86, "qwen-32b": 0.8}


def build(run_dir: Path) -> None:
    rng = random.Random(7)
    run_dir.mkdir(parents=True)
    m = manifest(models=MODELS, gate={"scorer": "exact_match", "max_gap": 0.03})
    m["dataset"]["n_samples"] = N
    (run_dir / "run.json").write_text(json.dumps(m))
    with (run_dir / "samples.jsonl").open("w") as f:
        for i in range(N):
            difficulty = rng.random()
            question = " ".join(
                rng.choice(["card", "refund", "transfer", "PIN", "fee", "why", "my"]) for _ in range(25)
            )
            for name, _ in MODELS:
                err = ErrorKind.TIMEOUT if rng.random() < 0.05 else None
                right = difficulty < SKILL[name]
                text = "card_arrival" if right else "lost_or_stolen_card — " + "x" * rng.randint(20, 300)
                r = res(
                    f"s{i:05d}",
                    name,
                    value=1.0 if right else 0.0,
                    error=err,
                    text=text,
                    input=question,
                    expected="card_arrival",
                    cost=0.00002,
                    latency=rng.uniform(0.2, 2.0),
                )
                f.write(json.dumps(r.to_dict()) + "\n")


LOADS = 3

# Runs inside the page: the explorer's reaction time, from the event to the end of the layout it causes.
REACT = """
var sel = document.getElementById("ex-view"), q = document.getElementById("ex-filter");
var next = document.getElementById("ex-next"), out = {};
function timed(name, act) {
  var t0 = performance.now(); act(); void document.body.offsetHeight; out[name] = performance.now() - t0;
}
timed("view", function () { sel.value = "errors"; sel.dispatchEvent(new Event("change")); });
out.errors_shown = Number(document.getElementById("examples").getAttribute("data-shown"));
timed("view_back", function () { sel.value = "all"; sel.dispatchEvent(new Event("change")); });
timed("search", function () {
  q.value = "lost_or_stolen"; q.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter"}));
});
timed("search_clear", function () {
  q.value = ""; q.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter"}));
});
timed("next_page", function () { next.click(); });
return out;
"""

NAV = """
var n = performance.getEntriesByType("navigation")[0];
var fcp = performance.getEntriesByName("first-contentful-paint")[0];
return {dcl: n.domContentLoadedEventEnd, interactive: n.domInteractive, load: n.loadEventEnd,
        fcp: fcp ? fcp.startTime : null,
        ready_mark: (performance.getEntriesByName("evalkit:explorer-ready")[0] || {}).startTime,
        ready: document.getElementById("examples").getAttribute("data-ready"),
        rows: document.querySelectorAll("#examples tbody tr").length};
"""


def browser_figures(html: Path) -> dict[str, float] | str:
    """Median figures in seconds over LOADS fresh loads, or why they could not be measured."""
    from _browser import chromium, missing

    why = missing()
    if why is not None:
        return why
    loads: list[dict[str, float]] = []
    with chromium() as driver:
        for _ in range(LOADS):
            driver.get("about:blank")
            t0 = time.monotonic()
            driver.get(html.as_uri())  # returns after the load event
            nav = driver.execute_script(NAV)
            wall = time.monotonic() - t0
            if nav["ready"] != "1" or nav["ready_mark"] is None:
                return "the explorer script did not run"
            react = driver.execute_script(REACT)
            loads.append(
                {
                    "dcl": nav["dcl"] / 1000,
                    "fcp": (nav["fcp"] or 0) / 1000,
                    "load": nav["load"] / 1000,
                    "ready": nav["ready_mark"] / 1000,
                    "wall": wall,
                    "rows": nav["rows"],
                    **{k: v / 1000 for k, v in react.items() if k != "errors_shown"},
                    "errors_shown": react["errors_shown"],
                }
            )
    return {k: statistics.median(d[k] for d in loads) for k in loads[0]}


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "results" / "demo" / "run"
        build(run_dir)
        ledger_mb = (run_dir / "samples.jsonl").stat().st_size / 1e6
        t0 = time.monotonic()
        write_report(run_dir, step_summary=False)
        report_s = time.monotonic() - t0
        sizes = {p.name: p.stat().st_size for p in sorted(run_dir.iterdir()) if p.name != "samples.jsonl"}
        b = browser_figures(run_dir / "report.html")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    if isinstance(b, str):
        browser = [f"| Chromium | not measured: {b} |"]
    else:
        ms = lambda k: f"{b[k] * 1000:,.0f} ms"  # noqa: E731
        browser = [
            f"| Chromium: DOMContentLoaded (from navigation start) | {b['dcl']:.2f} s |",
            f"| Chromium: explorer ready (its script has run: `evalkit:explorer-ready` mark) | {b['ready']:.2f} s |",
            f"| Chromium: first contentful paint | {b['fcp']:.2f} s |",
            f"| Chromium: load event end | {b['load']:.2f} s |",
            f"| Selenium `get()` until loaded (WebDriver round trip included) | {b['wall']:.2f} s |",
            f"| explorer rows in the page | {b['rows']:,.0f} |",
            f"| explorer: switch to *errors* ({b['errors_shown']:,.0f} rows; event to end of layout) | {ms('view')} |",
            f"| explorer: back to *all* (500 rows shown again) | {ms('view_back')} |",
            f"| explorer: apply a search (Enter; typing waits 150 ms for the last key) | {ms('search')} |",
            f"| explorer: clear the search | {ms('search_clear')} |",
            f"| explorer: next page | {ms('next_page')} |",
        ]
    lines = [
        "# Report size and load time: 10,000 samples x 4 models",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit.strip()}, 2 cores. Ledger: {N * 4:,} lines, "
        f"{ledger_mb:.1f} MB. Browser figures: headless Chromium "
        f"{chromium_version()} via Selenium + chromedriver, median of {LOADS} fresh loads from file://. "
        f"Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end: "
        "above 2 the machine was shared and the times are inflated.",
        "",
        "| what | figure |",
        "| --- | --- |",
        f"| `write_report` (all files, from the folder alone) | {report_s:.1f} s |",
        *browser,
        *(f"| `{name}` | {size / 1024:,.0f} KiB |" for name, size in sizes.items()),
        "",
        "The example explorer carries at most 2,000 cells (disagreements first) and pages 500 rows at a time,",
        "so report.html stays small however large the run; the ledger keeps every answer.",
    ]
    (ROOT / "bench" / "report_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def chromium_version() -> str:
    from _browser import CHROMIUM

    try:
        out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return "?"
    words = out.split()  # "Chromium 156.0.8078.79 built on Debian ..."
    return words[1] if len(words) > 1 else "?"


if __name__ == "__main__":
    main()
