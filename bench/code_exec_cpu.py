"""CPU cost of one code_exec sample, in the parent (evalkit) and in the sandbox's processes.

    python bench/code_exec_cpu.py [namespaces|process|container|auto]

Scores the first 40 MBPP reference solutions (two at a time) after one warm-up and prints the CPU
time per sample of this process and of its children (``RUSAGE_CHILDREN``), and the wall time.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from code_exec import _samples

from evalkit.scorers.code_exec import CodeExec
from evalkit.scorers.registry import build_scorer


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "auto"
    pairs = _samples(40)
    fn = build_scorer("code_exec", {"max_parallel": 2, "sandbox": kind}, allow_async=True)
    assert isinstance(fn, CodeExec)

    async def all_of_them() -> None:
        await asyncio.gather(*(fn(t, s) for t, s in pairs))

    asyncio.run(fn(*pairs[0]))
    c0, p0, w0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time(), time.perf_counter()
    asyncio.run(all_of_them())
    c1, p1, w1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time(), time.perf_counter()
    n = len(pairs)
    user, system = (c1.ru_utime - c0.ru_utime) / n, (c1.ru_stime - c0.ru_stime) / n
    print(
        f"{fn.sandbox.name}: parent CPU {1000 * (p1 - p0) / n:.1f} ms/sample, "
        f"sandbox CPU {1000 * (user + system):.1f} ms/sample (user {1000 * user:.1f}, sys {1000 * system:.1f}), "
        f"wall {1000 * (w1 - w0) / n:.0f} ms/sample at 2 in parallel"
    )


if __name__ == "__main__":
    main()
