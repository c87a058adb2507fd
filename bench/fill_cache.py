"""Fill the response cache for a suite without sending anything, to benchmark a cached re-run.

Computes every cell's key exactly as a run does (:func:`evalkit.run.plan.scan`'s keys) and stores a
plausible answer for it, in one transaction. ``python bench/fill_cache.py SUITE`` (the cache is
``$EVALKIT_CACHE_DIR``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from evalkit.config.dataset import load_dataset
from evalkit.config.load import load_suite
from evalkit.config.prompt import Renderer
from evalkit.run.cache import KeyMaker, ResponseCache
from evalkit.run.plan import plan_models
from evalkit.types import Completion


def fill(suite_path: Path) -> int:
    loaded = load_suite(suite_path)
    suite = loaded.suite
    samples = load_dataset(loaded.dataset_path, suite.dataset).samples
    renderer = Renderer(suite.prompt, file_vars=loaded.file_vars, hidden=suite.dataset.hidden, where="bench")
    plans = plan_models(suite, None, loaded.path)
    makers = [KeyMaker(p.identity_model, p.identity_base, p.params) for p in plans]
    cache = ResponseCache.default()
    rows = []
    for s in samples:
        messages_json = KeyMaker.messages_json(renderer.render(s))
        for maker in makers:
            for epoch in range(suite.epochs):
                answer = Completion(
                    text="ok" if int(s.id[1:]) % 2 else "no",
                    finish_reason="stop",
                    input_tokens=12,
                    output_tokens=1,
                    cost_usd=None,
                    latency_s=0.2,
                )
                rows.append((maker.key(messages_json, epoch), json.dumps(answer.to_dict())))
    cache._db.execute("BEGIN")
    cache._db.executemany("INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)", rows)
    cache._db.execute("COMMIT")
    cache.close()
    return len(rows)


if __name__ == "__main__":
    print(fill(Path(sys.argv[1])))
