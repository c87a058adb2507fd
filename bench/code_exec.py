"""code_exec throughput, and how much CPU it leaves an event loop doing other work.

    python bench/code_exec.py [--n 40] [--parallel 1,2,4] [--sandbox auto] [--seconds 6]

1. **Throughput**: the first ``--n`` MBPP reference solutions (``suites/data/mbpp_test.jsonl``, three
   asserts each) scored by ``code_exec`` at each ``max_parallel``: samples per second and the
   median time of one sample in its sandbox (start to verdict), after one warm-up sample.
2. **What is left for the fan-out**: a stand-in for the model fan-out runs on the same event loop,
   a coroutine that does 1 ms of pure-Python work and yields, over and over, for ``--seconds``. Its
   rate alone is the baseline; then the same while ``code_exec`` keeps ``max_parallel`` samples
   running (the sandboxed code is niced to 10, or 0 for comparison). It prints how much of the
   baseline rate the loop kept, and the worst lag of a 10 ms timer (the loop's responsiveness).

Prints a JSON line per measurement and a Markdown table at the end. Figures depend on the machine
and on what else runs on it: note the load average shown with them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from evalkit.scorers.registry import build_scorer
from evalkit.types import Sample, Score

DATA = Path(__file__).resolve().parents[1] / "suites" / "data" / "mbpp_test.jsonl"
SLOW = {"mbpp-123"}  # its reference needs ~3 s of CPU: it would dominate a small sample


def _samples(n: int) -> list[tuple[str, Sample]]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["id"] in SLOW:
            continue
        fields = {k: v for k, v in r.items() if k not in ("id", "input", "expected")}
        out.append((f"```python\n{r['code']}\n```", Sample(r["id"], r["input"], None, fields)))
        if len(out) == n:
            break
    return out


def _work_unit() -> None:
    end = time.perf_counter() + 0.001
    x = 0
    while time.perf_counter() < end:
        x += 1


async def _fanout_standin(stop: asyncio.Event) -> tuple[int, float]:
    """Units of 1 ms work done until ``stop``; and the worst lag of a 10 ms timer meanwhile."""
    units = 0
    worst = 0.0

    async def timer() -> None:
        nonlocal worst
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - t - 0.01)

    tick = asyncio.create_task(timer())
    while not stop.is_set():
        _work_unit()
        units += 1
        await asyncio.sleep(0)
    await tick
    return units, worst


async def _throughput(fn: Any, pairs: list[tuple[str, Sample]]) -> dict[str, Any]:
    await fn(*pairs[0])  # warm-up
    start = time.perf_counter()
    scores: list[Score] = await asyncio.gather(*(fn(t, s) for t, s in pairs))
    wall = time.perf_counter() - start
    times = [float(s.meta["duration_s"]) for s in scores]  # spawn to verdict, in the sandbox
    return {
        "samples": len(pairs),
        "wall_s": round(wall, 2),
        "samples_per_s": round(len(pairs) / wall, 2),
        "median_s": round(statistics.median(times), 3),
        "passed": sum(1 for s in scores if s.label == "pass"),
    }


async def _left_for_loop(fn: Any | None, pairs: list[tuple[str, Sample]], seconds: float) -> dict[str, Any]:
    stop = asyncio.Event()
    standin = asyncio.create_task(_fanout_standin(stop))
    done = 0

    async def keep_busy(score: Any) -> None:
        nonlocal done
        i = 0
        while not stop.is_set():
            await score(*pairs[i % len(pairs)])
            done += 1
            i += 1

    workers = [asyncio.create_task(keep_busy(fn)) for _ in range(fn.sandbox.max_parallel)] if fn else []
    await asyncio.sleep(seconds)
    stop.set()
    units, worst = await standin
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return {
        "units_per_s": round(units / seconds, 1),
        "worst_timer_lag_ms": round(worst * 1000, 1),
        "samples": done,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--parallel", default="1,2,4")
    ap.add_argument("--sandbox", default="auto")
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    pairs = _samples(args.n)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = []
    for p in [int(x) for x in args.parallel.split(",")]:
        fn = build_scorer("code_exec", {"sandbox": args.sandbox, "max_parallel": p}, allow_async=True)
        r = {"max_parallel": p, "sandbox": fn.sandbox.name, **asyncio.run(_throughput(fn, pairs))}  # type: ignore[union-attr]
        print(json.dumps(r), flush=True)
        rows.append(r)
    base = asyncio.run(_left_for_loop(None, pairs, args.seconds))
    print(json.dumps({"loop_alone": base}), flush=True)
    kept = []
    for nice in (10, 0):
        fn = build_scorer(
            "code_exec", {"sandbox": args.sandbox, "max_parallel": 2, "nice": nice}, allow_async=True
        )
        r = asyncio.run(_left_for_loop(fn, pairs, args.seconds))
        r.update(nice=nice, kept=round(r["units_per_s"] / base["units_per_s"], 2))
        print(json.dumps(r), flush=True)
        kept.append(r)
    print(f"\nload average at start: {load:.1f}, cores: {os.cpu_count()}\n" if load is not None else "")
    print("| max_parallel | sandbox | samples | samples/s | median s in the sandbox | passed |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['max_parallel']} | {r['sandbox']} | {r['samples']} | {r['samples_per_s']} | {r['median_s']} | {r['passed']} |"
        )
    print("\n| event loop | work units/s | of the loop alone | worst 10 ms timer lag | samples scored |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| alone | {base['units_per_s']} | 100 % | {base['worst_timer_lag_ms']} ms | — |")
    for r in kept:
        print(f"| + code_exec, 2 parallel, nice {r['nice']} | {r['units_per_s']} | {r['kept']:.0%} | "
              f"{r['worst_timer_lag_ms']} ms | {r['samples']} |")  # fmt: skip


if __name__ == "__main__":
    main()
