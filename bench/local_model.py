"""The embedded llama.cpp model: does the harness keep it busy, and does a shared prompt prefix pay?

1. *direct*: one server (``evalkit.providers.local.LocalServer``, one slot, one thread, as ``evalkit run`` starts
   it), driven by a plain HTTP client, one request after another: the server's own rate.
2. *evalkit*: ``evalkit run`` of the same prompts (concurrency 1, cache off): requests/s of its
   sending phase, which should be within 10 % of the direct rate.
3. *prefix*: the same through ``evalkit run`` with the fixed part (the 77 BANKING77 labels) first and
   the sample last, against the sample first and the labels after it, so llama.cpp's prompt cache
   cannot reuse anything.

Prints a Markdown table. ``--n`` + 1 prompts each (default 24; ``--n-unshared`` + 1 without a shared
prefix, default 6: ~5 s each).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ALIAS = "smollm2-135m-instruct"
LABELS = json.loads((ROOT / "suites" / "data" / "banking77_labels.json").read_text())
ROWS = [
    json.loads(x)
    for x in (ROOT / "suites" / "data" / "banking77_test_400.jsonl").read_text().splitlines()
    if x
]
FIXED = "Reply with exactly one intent label from this list, and nothing else:\n" + "\n".join(LABELS)
PARAMS = {"temperature": 0, "max_tokens": 8}


def _direct(n: int) -> float:
    from evalkit.providers.local import LocalServer

    with LocalServer(ALIAS) as ep:

        def ask(i: int) -> None:
            body = {
                "model": ALIAS,
                "messages": [
                    {"role": "system", "content": FIXED},
                    {"role": "user", "content": f"Message: {ROWS[i]['input']}\nIntent:"},
                ],
                **PARAMS,
            }
            req = urllib.request.Request(
                ep.api_base + "/chat/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {ep.api_key}"},
            )
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()

        t0 = time.perf_counter()
        for i in range(n + 1):  # as evalkit sends them: the first one fills the prompt cache
            ask(i)
        return (n + 1) / (time.perf_counter() - t0)


def _evalkit(n: int, tmp: Path, *, prefix_first: bool) -> tuple[float, float]:
    folder = tmp / f"local-{'prefix' if prefix_first else 'sample'}-first"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "data.jsonl").open("w") as f:
        for row in ROWS[: n + 1]:
            f.write(json.dumps({"id": row["id"], "input": row["input"], "expected": row["expected"]}) + "\n")
    prompt = (
        {"system": FIXED, "user": "Message: {{ input }}\nIntent:"}
        if prefix_first
        else {"user": "Message: {{ input }}\n\n" + FIXED + "\nIntent:"}
    )
    suite = {
        "name": "bench-local",
        "version": "1",
        "dataset": {"path": "data.jsonl"},
        "prompt": prompt,
        "defaults": {"params": PARAMS, "concurrency": 1, "timeout_s": 120},
        "models": [{"name": "smollm2", "model": f"local/{ALIAS}", "group": "open"}],
        "scorers": ["exact_match"],
    }
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    out = tmp / "out-local"
    env = {**os.environ, "EVALKIT_CACHE_DIR": str(tmp / "cache-local")}
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "evalkit", "run", str(folder / "suite.yaml"), "--no-cache", "--no-progress"]
    subprocess.run([*cmd, "--output", str(out)], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    run = max(out.glob("*/*"), key=lambda p: p.stat().st_mtime)
    send = json.loads((run / "run.json").read_text())["execution"]["seconds"]["send"]
    return (n + 1) / send, (n + 1) / wall


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--n-unshared", type=int, default=6, help="prompts without a shared prefix (~5 s each)")
    p.add_argument("--tmp", type=Path, required=True)
    a = p.parse_args()
    direct = _direct(a.n)
    shared, shared_e2e = _evalkit(a.n, a.tmp, prefix_first=True)
    unshared, unshared_e2e = _evalkit(a.n_unshared, a.tmp, prefix_first=False)
    rows = [
        ("direct HTTP client, labels first (the server's own rate)", direct, "", ""),
        (
            "`evalkit run`, labels first (shared prefix)",
            shared,
            f"{shared / direct:.0%} of direct",
            f"{shared_e2e:.2f} req/s end to end, server start-up included",
        ),
        (
            "`evalkit run`, sample first (no shared prefix)",
            unshared,
            f"shared prefix is {shared / unshared:.1f}x faster",
            f"{unshared_e2e:.2f} req/s end to end",
        ),
    ]
    print(
        f"smollm2-135m-instruct on llama.cpp (1 slot, 1 thread), {a.n + 1} prompts ({a.n_unshared + 1} without a "
        "shared prefix), max_tokens 8, concurrency 1; the first request of each fills the prompt cache.\n"
    )
    print("| how | requests/s | comparison | note |\n|---|---|---|---|")
    for what, rate, cmp, note in rows:
        print(f"| {what} | {rate:.2f} | {cmp} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
