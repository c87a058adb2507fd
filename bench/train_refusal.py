"""Would a small trained classifier beat the refusal rules? Trains two, measures them; writes
bench/train_refusal.md.

    .venv/bin/python bench/train_refusal.py          # about a minute on one core

Two logistic regressions (L2, Newton's method in numpy: no scikit-learn needed), each trained on
evalkit's labelled dev rows only (binary target: refusal = full or partial refusal):

* **words**: TF-IDF of word unigrams and bigrams of the prepared output (its first 1,500
  characters, quoted text masked; words in at least two training answers; sublinear tf, l2 norm);
* **rule features**: what the rules measured (their class, the kind of the opening clause, the
  share of each clause kind, content and warning weight, list steps, length).

Each is used alone and combined with the rules (the classifier overrides the rules' binary decision
only when its probability is at least ``margin`` away from 0.5; ``margin`` is picked by 5-fold
cross-validation on dev). Measured: 5-fold cross-validation on dev (folds by prompt id), the
held-out part (trained on all dev rows), and across models (trained on one model's dev rows,
tested on the other model's held-out rows). The rules themselves were written on both models'
dev rows, so their cross-model figure is not a separate measurement: it is their held-out figure.

The scorer ships a classifier only if it measures better than the rules on the held-out part.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import itertools
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from refusal_agreement import MODELS, Row, load_rows

from evalkit.scorers._refusal_rules import detect, mark
from evalkit.scorers._refusal_text import MASK, is_list_item, prepare, weight

_TOKEN = re.compile(r"[a-z][a-z']+")
_KINDS = "RAWXMOCQN"
Featurizer = Callable[[list[Row]], Callable[[str], np.ndarray]]


def words_featurizer(train: list[Row]) -> Callable[[str], np.ndarray]:
    """TF-IDF of unigrams and bigrams, vocabulary and idf from ``train``."""

    def grams(text: str) -> list[str]:
        w = _TOKEN.findall(prepare(text)[:1500].replace(MASK, " "))
        return [f"w:{x}" for x in w] + [f"b:{a}_{b}" for a, b in itertools.pairwise(w)]

    df: collections.Counter[str] = collections.Counter()
    for r in train:
        df.update(set(grams(r["output"])))
    vocab = sorted(k for k, v in df.items() if v >= 2)
    index = {k: i for i, k in enumerate(vocab)}
    idf = np.array([math.log((1 + len(train)) / (1 + df[k])) + 1 for k in vocab])

    def vec(text: str) -> np.ndarray:
        v = np.zeros(len(vocab))
        for k, n in collections.Counter(g for g in grams(text) if g in index).items():
            v[index[k]] = (1 + math.log(n)) * idf[index[k]]
        norm = np.linalg.norm(v)
        return v / norm if norm else v

    return vec


def rules_featurizer(train: list[Row]) -> Callable[[str], np.ndarray]:
    """Dense features of what the rules measured (``train`` is not needed)."""

    def vec(text: str) -> np.ndarray:
        d = detect(text)
        marked = mark(text) if text.strip() else []
        total = sum(weight(c.text) for c in marked) + 1
        opening = next((c for c in marked if c.kind != "N"), None)
        f = [float(d.label == k) for k in ("compliance", "partial_refusal", "full_refusal")]
        f += [float(opening is not None and opening.kind == k) for k in "RWXMOC"]
        f += [sum(weight(c.text) for c in marked if c.kind == k) / total for k in _KINDS]
        f += [math.log1p(d.content) / 7, math.log1p(d.moral) / 7, d.moral / (d.moral + d.content + 1)]
        f += [
            min(5, sum(1 for c in marked if c.kind == "C" and is_list_item(c.text))) / 5,
            math.log(total) / 7,
        ]
        return np.array(f)

    return vec


def fit(x: np.ndarray, y: np.ndarray, lam: float = 1.0, iters: int = 50) -> np.ndarray:
    """L2-regularised logistic regression (intercept last, barely regularised), by Newton's method.
    The Newton step uses the Woodbury identity, so it solves an n x n system (n rows << features)."""
    n = x.shape[0]
    x1 = np.hstack([x, np.ones((n, 1))])
    reg = np.full(x1.shape[1], float(lam))
    reg[-1] = 1e-3
    w = np.zeros(x1.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x1 @ w)))
        g = x1.T @ (p - y) + reg * w
        a = x1 * np.sqrt(np.maximum(p * (1 - p), 1e-9))[:, None]
        dg = g / reg
        step = dg - (a.T @ np.linalg.solve(np.eye(n) + (a / reg) @ a.T, a @ dg)) / reg
        w -= step
        if np.abs(step).max() < 1e-7:
            break
    return w


def train_predict(featurizer: Featurizer, train: list[Row], test: list[Row]) -> list[float]:
    """P(refusal) for each test row, from a model trained on ``train``."""
    vec = featurizer(train)
    x = np.array([vec(r["output"]) for r in train])
    y = np.array([float(r["label"] != "compliance") for r in train])
    w = fit(x, y)
    xt = np.array([vec(r["output"]) for r in test])
    return list(1 / (1 + np.exp(-(np.hstack([xt, np.ones((len(test), 1))]) @ w))))


def decide(rule: str, p: float, margin: float | None) -> bool:
    """Binary decision: the classifier alone (``margin`` None) or overriding the rules when confident."""
    if margin is None:
        return p >= 0.5
    return p >= 0.5 if abs(p - 0.5) >= margin else rule != "compliance"


def binary(rows: list[Row], decisions: list[bool]) -> float:
    """Binary agreement with the human labels."""
    return sum((r["label"] != "compliance") == d for r, d in zip(rows, decisions, strict=True)) / len(rows)


def folds(rows: list[Row], k: int = 5) -> list[list[Row]]:
    """``k`` folds by a hash of the prompt id (both models' answers to a prompt in one fold)."""
    return [
        [r for r in rows if int(hashlib.md5(r["id"].encode()).hexdigest(), 16) % k == i] for i in range(k)
    ]


def cv_probs(featurizer: Featurizer, dev: list[Row]) -> dict[tuple[str, str], float]:
    """Out-of-fold P(refusal) for every dev row."""
    out: dict[tuple[str, str], float] = {}
    for fold in folds(dev):
        ids = {r["id"] for r in fold}
        probs = train_predict(featurizer, [r for r in dev if r["id"] not in ids], fold)
        out.update({(r["model"], r["id"]): p for r, p in zip(fold, probs, strict=True)})
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure and write the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".md"))
    args = ap.parse_args(argv)
    rows = load_rows()
    dev = [r for r in rows if r["split"] == "dev"]
    held = [r for r in rows if r["split"] == "heldout"]
    rule = {(r["model"], r["id"]): detect(r["output"]).label for r in rows}
    gpt, mis = MODELS["gpt4"], MODELS["mistral7b_instruct"]
    lines = [
        "# A trained refusal classifier, considered",
        "",
        "Generated by `bench/train_refusal.py` (see its docstring for the method). Binary agreement with the human "
        "labels of `tests/data/xstest_labels/`; dev = 5-fold cross-validation on the dev rows; held-out = trained "
        f"on all {len(dev)} dev rows, tested on the {len(held)} held-out rows; cross = trained on one model's dev "
        "rows, tested on the other's held-out rows.",
        "",
        "| method | margin | dev (CV) | held-out | GPT-4 dev → Mistral held-out | Mistral dev → GPT-4 held-out |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    def key(r: Row) -> tuple[str, str]:
        return (r["model"], r["id"])

    def rules_only(part: list[Row]) -> float:
        return binary(part, [rule[key(r)] != "compliance" for r in part])

    lines.append(
        f"| rules (shipped) | – | {100 * rules_only(dev):.1f} % | {100 * rules_only(held):.1f} % "
        f"| {100 * rules_only([r for r in held if r['model'] == mis]):.1f} % "
        f"| {100 * rules_only([r for r in held if r['model'] == gpt]):.1f} % |"
    )
    for name, featurizer in (("words", words_featurizer), ("rule features", rules_featurizer)):
        cv = cv_probs(featurizer, dev)
        held_p = dict(zip(map(key, held), train_predict(featurizer, dev, held), strict=True))
        cross: dict[tuple[str, str], float] = {}
        for src, dst in ((gpt, mis), (mis, gpt)):
            test = [r for r in held if r["model"] == dst]
            cross.update(
                zip(
                    map(key, test),
                    train_predict(featurizer, [r for r in dev if r["model"] == src], test),
                    strict=True,
                )
            )
        for combined in (False, True):
            if combined:
                margins = (0.2, 0.3, 0.4)
                margin: float | None = max(
                    margins, key=lambda m: binary(dev, [decide(rule[key(r)], cv[key(r)], m) for r in dev])
                )
            else:
                margin = None

            def score(part: list[Row], probs: dict[tuple[str, str], float], m: float | None = margin) -> str:
                return f"{100 * binary(part, [decide(rule[key(r)], probs[key(r)], m) for r in part]):.1f} %"

            lines.append(
                f"| {name}{' + rules' if combined else ' alone'} | {'–' if margin is None else margin} "
                f"| {score(dev, cv)} | {score(held, held_p)} | {score([r for r in held if r['model'] == mis], cross)} "
                f"| {score([r for r in held if r['model'] == gpt], cross)} |"
            )
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
