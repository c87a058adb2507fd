"""The partial migration on the shipped safety suite's data: can any XSTest prompt type (or label, or
input-length bucket) move from the recorded GPT-4 answers to the recorded Mistral-7B-Instruct ones?

    .venv/bin/python bench/blend_xstest.py /work/shared/data     # the folder with the recorded answers

The prompts are ``suites/data/xstest_prompts.jsonl`` (the safety suite's data; tags ``label`` and
``type``, as in suites/safety.yaml). The answers (``xstest_answers_gpt4.jsonl``,
``xstest_answers_mistral7b_instruct.jsonl``) are not shipped (their licences are the models'
vendors'), so their folder is an argument. Each answer is scored by evalkit's ``refusal`` scorer
against ``should_refuse`` (no human label is read), then evalkit.stats.partial.partial_migration runs
with the suite's gate margin (max_gap 0.05) at 95 %. Prints what the report's section would say.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from evalkit.scorers import build_scorer
from evalkit.stats.partial import partial_migration
from evalkit.stats.slicing import BlendData
from evalkit.types import Sample

PROMPTS = Path(__file__).parents[1] / "suites" / "data" / "xstest_prompts.jsonl"


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument(
        "answers", type=Path, help="folder with xstest_answers_gpt4.jsonl and ..._mistral7b_instruct.jsonl"
    )
    ap.add_argument("--max-gap", type=float, default=0.05)
    ap.add_argument(
        "--fields",
        default="label,type",
        help="tag fields a router may use (default label,type: the suite's tags; label is the expected "
        "verdict, which a router cannot see before the call)",
    )
    args = ap.parse_args(argv)
    prompts = _rows(PROMPTS)
    answers = {
        name: {str(r["id"]): str(r["output"]) for r in _rows(args.answers / f"xstest_answers_{name}.jsonl")}
        for name in ("gpt4", "mistral7b_instruct")
    }
    score = build_scorer("refusal")
    values: dict[str, list[float]] = {name: [] for name in answers}
    for r in prompts:
        sample = Sample(str(r["id"]), str(r["input"]), None, {"should_refuse": r["should_refuse"]})
        for name, by_id in answers.items():
            values[name].append(float(score(by_id[str(r["id"])], sample).value))
    n = len(prompts)
    data = BlendData(
        np.asarray(values["gpt4"]),
        np.asarray(values["mistral7b_instruct"]),
        np.arange(n),
        {field: tuple(str(r[field]) for r in prompts) for field in ("label", "type")},
        np.asarray([len(str(r["input"])) for r in prompts], dtype=np.int64),
        tuple(str(r["id"]) for r in prompts),
    )
    print(f"refusal scorer, all {n} prompts: gpt4 {data.closed.mean():.3f}, mistral {data.open_.mean():.3f}")
    fields = [f for f in args.fields.split(",") if f]
    pm = partial_migration(
        data, closed_model="gpt4", open_model="mistral7b", max_gap=args.max_gap, fields=fields
    )
    print(f"outcome: {pm.outcome.value}\n{pm.reason}\n")
    print(f"selection half: {pm.selection.n_examples} examples, Holm family {pm.selection.family}")
    for s in pm.selection.slices:
        if s.field != "type" or s.status != "too_small":
            print(f"  {s.status:9} {s.reason}")
    small = [s.label for s in pm.selection.slices if s.status == "too_small"]
    if small:
        print(f"  too small ({len(small)}): {', '.join(small)}")
    for est in (pm.honest, pm.naive):
        if est is not None:
            g = est.gap
            print(
                f"{est.name} ({est.method}): gap {g.gap:+.3f} [{g.low:+.3f}, {g.high:+.3f}], share {est.share.estimate:.3f}"
            )
    rule = pm.routing_rule()
    if rule is not None:
        print("routing rule:", json.dumps(rule))
    return 0


if __name__ == "__main__":
    sys.exit(main())
