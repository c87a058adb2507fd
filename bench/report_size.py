"""Report size and load time for 10,000 samples x 4 models (a benchmark, not a test).

Builds a synthetic run folder (2 closed + 2 open models, realistic output lengths, 5 % errors,
some disagreements), times ``write_report`` (everything regenerated from the folder), and times
headless Chromium loading report.html until the explorer script has run. Writes
``bench/report_size.md``. Run: ``.venv/bin/python bench/report_size.py`` (about a minute).
"""

from __future__ import annotations

import json
import random
import shutil
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


def chromium_load_s(html: Path) -> float | None:
    exe = shutil.which("chromium")
    if not exe:
        return None
    with tempfile.TemporaryDirectory() as profile:
        t0 = time.monotonic()
        out = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                html.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        took = time.monotonic() - t0
    return took if 'data-ready="1"' in out.stdout else None


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "results" / "demo" / "run"
        build(run_dir)
        ledger_mb = (run_dir / "samples.jsonl").stat().st_size / 1e6
        t0 = time.monotonic()
        write_report(run_dir, step_summary=False)
        report_s = time.monotonic() - t0
        sizes = {p.name: p.stat().st_size for p in sorted(run_dir.iterdir()) if p.name != "samples.jsonl"}
        load_s = chromium_load_s(run_dir / "report.html")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout
    lines = [
        "# Report size and load time: 10,000 samples x 4 models",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit.strip()}, 2 cores. Ledger: {N * 4:,} lines, "
        f"{ledger_mb:.1f} MB.",
        "",
        "| what | figure |",
        "| --- | --- |",
        f"| `write_report` (all files, from the folder alone) | {report_s:.1f} s |",
        f"| Chromium: load report.html until the explorer has run | "
        f"{f'{load_s:.1f} s (process start included)' if load_s else 'not measured (no chromium)'} |",
        *(f"| `{name}` | {size / 1024:,.0f} KiB |" for name, size in sizes.items()),
        "",
        "The example explorer carries at most 2,000 cells (disagreements first) and pages 500 rows at a time,",
        "so report.html stays small however large the run; the ledger keeps every answer.",
    ]
    (ROOT / "bench" / "report_size.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
