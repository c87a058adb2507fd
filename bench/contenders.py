"""The contenders evalkit is measured against, each as one process: ``python bench/contenders.py KIND``.

``openai``: the raw ``openai.AsyncOpenAI`` client under a semaphore (the floor: no LiteLLM at all).
``litellm``: bare ``litellm.acompletion`` under a semaphore, with LiteLLM's defaults (how a peer calls it).

Each sends ``--n`` chat completions to ``--base`` with at most ``--inflight`` in flight and prints one
JSON line: the wall time of the fan-out alone (after imports) and how many answers came back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time


def _messages(i: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "Answer yes or no."},
        {"role": "user", "content": f"question {i}: is this sample number {i} even?"},
    ]


async def _openai(base: str, n: int, inflight: int) -> int:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=0)
    sem = asyncio.Semaphore(inflight)

    async def one(i: int) -> bool:
        async with sem:
            r = await client.chat.completions.create(
                model="bench",
                messages=_messages(i),
                max_tokens=4,
                temperature=0,  # type: ignore[arg-type]
            )
            return bool(r.choices)

    ok = await asyncio.gather(*(one(i) for i in range(n)))
    await client.close()
    return sum(ok)


async def _litellm(base: str, n: int, inflight: int) -> int:
    import litellm

    sem = asyncio.Semaphore(inflight)

    async def one(i: int) -> bool:
        async with sem:
            r = await litellm.acompletion(
                model="openai/bench",
                api_base=base,
                api_key="sk-bench",
                messages=_messages(i),
                max_tokens=4,
                temperature=0,
                num_retries=0,
            )
            return bool(r.choices)

    ok = await asyncio.gather(*(one(i) for i in range(n)))
    return sum(ok)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=["openai", "litellm"])
    p.add_argument("--base", required=True, help="the OpenAI-compatible base URL (ending in /v1)")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--inflight", type=int, default=64)
    a = p.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if a.kind == "litellm":
        import litellm  # noqa: F401  (imported before the clock starts, as for evalkit's fan-out figure)
    else:
        import openai  # noqa: F401
    t0 = time.perf_counter()
    fn = _openai if a.kind == "openai" else _litellm
    ok = asyncio.run(fn(a.base, a.n, a.inflight))
    print(json.dumps({"fanout_wall_s": time.perf_counter() - t0, "ok": ok}), flush=True)
    return 0 if ok == a.n else 1


if __name__ == "__main__":
    sys.exit(main())
