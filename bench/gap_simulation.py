"""Long simulation of evalkit's paired-gap statistics; writes bench/gap_simulation.md.

    .venv/bin/python bench/gap_simulation.py            # 2,000 data sets per cell, 10,000 resamples
    .venv/bin/python bench/gap_simulation.py --sets 200 --out /tmp/quick.md   # a quick look

Models are correlated through a latent per-example difficulty z ~ N(0, 1) shared by both, plus
each model's own per-example knowledge u_m ~ N(0, 1): model m passes an example with probability
Phi(a_m + B z + C u_m) (B = 1.5, C = 1), so the two models tend to pass and fail the same
examples, as real models do, and each has examples it reliably gets wrong. With epochs, each
epoch is a fresh draw given the same z and u (the model "flips" on borderline examples, and the
epochs of one example are correlated: what the cluster bootstrap is for). Continuous scores are
Phi(a_m + B z + C u_m). True means are closed-form: Phi(a / sqrt(1 + B^2 + C^2)).

Every interval is computed by the code the reports use (evalkit.stats.paired_gap, 10,000
resamples) and every decision by evalkit.analysis.gate.classify_gap. What is checked:

1. coverage of the 95 % interval of the gap (target 95 % +- 1.5 %), pass/fail with 1 and 3
   epochs and continuous scores, at n = 200 and n = 1,000 examples;
2. the type I error of McNemar's test (exact, and clustered with epochs) at a true gap of 0;
3. the gate's error rates at the margin (true gap = max_gap: migrate should happen <= 2.5 %);
4. the sample-size formula of evalkit.stats.planning: at N (50 %) and N (80 %) computed from the
   true gap and discordance, how often the interval excludes the margin, and the plug-in N
   computed from a pilot of 400 examples.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.stats import norm

from evalkit.analysis.gate import classify_gap
from evalkit.analysis.outcome import RuleStatus
from evalkit.stats import DEFAULT_RESAMPLES, examples_needed, paired_gap

B = 1.5
C = 1.0
SCALE = math.sqrt(1 + B * B + C * C)
Arr = npt.NDArray[np.float64]
Maker = Callable[[np.random.Generator, int], tuple[Arr, Arr, Arr | None]]


def a_for(p: float) -> float:
    """The intercept a of a model whose population mean (pass rate or mean score) is ``p``."""
    return float(SCALE * norm.ppf(p))


def binary(a_c: float, a_o: float, epochs: int = 1) -> Maker:
    def make(rng: np.random.Generator, n: int) -> tuple[Arr, Arr, Arr | None]:
        z, u_c, u_o = (rng.normal(size=(n, 1)) for _ in range(3))
        c = (rng.random((n, epochs)) < norm.cdf(a_c + B * z + C * u_c)).astype(float).ravel()
        o = (rng.random((n, epochs)) < norm.cdf(a_o + B * z + C * u_o)).astype(float).ravel()
        ids = np.repeat(np.arange(n), epochs).astype(float) if epochs > 1 else None
        return c, o, ids

    return make


def continuous(a_c: float, a_o: float) -> Maker:
    def make(rng: np.random.Generator, n: int) -> tuple[Arr, Arr, Arr | None]:
        z, u_c, u_o = (rng.normal(size=n) for _ in range(3))
        return norm.cdf(a_c + B * z + C * u_c), norm.cdf(a_o + B * z + C * u_o), None

    return make


def run_sets(make: Maker, n: int, sets: int, seed: int, *, naive: bool = False) -> list:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(sets):
        c, o, ids = make(rng, n)
        out.append(paired_gap(c, o, clusters=None if naive else ids, seed=seed * 100_003 + i))
    return out


def se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def pct(p: float) -> str:
    return f"{100 * p:.1f} %"


def coverage_section(sets: int, lines: list[str], verdicts: list[bool]) -> None:
    lines += [
        "## 1. Coverage of the 95 % gap interval",
        "",
        f"{sets:,} simulated data sets per row; target 95 % +- 1.5 %. "
        "'naive' resamples the cells of all epochs as if independent (what evalkit does *not* do).",
        "",
        "| scores | epochs | n | closed | open | true gap | coverage | ± 2 SE | mean half-width | within 95 ± 1.5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    p_c = 0.80
    cases: list[tuple[str, int, float, bool]] = []
    for gap in (0.0, 0.05, 0.15):
        cases.append(("pass/fail", 1, gap, False))
    cases += [("pass/fail", 3, 0.05, False), ("pass/fail", 3, 0.05, True), ("continuous", 1, 0.05, False)]
    seed = 1
    for kind, epochs, gap, naive in cases:
        for n in (200, 1000):
            seed += 1
            a_c, a_o = a_for(p_c), a_for(p_c - gap)
            make = continuous(a_c, a_o) if kind == "continuous" else binary(a_c, a_o, epochs)
            truth, t_c, t_o = gap, p_c, p_c - gap
            t0 = time.perf_counter()
            res = run_sets(make, n, sets, seed, naive=naive)
            cov = float(np.mean([g.low <= truth <= g.high for g in res]))
            hw = float(np.mean([g.half_width for g in res]))
            ok = abs(cov - 0.95) <= 0.015
            if not naive:
                verdicts.append(ok)
            label = f"{epochs}{' naive' if naive else ''}"
            lines.append(
                f"| {kind} | {label} | {n:,} | {t_c:.3f} | {t_o:.3f} | {truth:.3f} | {pct(cov)} | "
                f"{pct(2 * se(cov, sets))} | {100 * hw:.2f} pp | {'yes' if ok else 'no'}"
                f"{' (not used by evalkit)' if naive else ''} |"
            )
            print(
                f"coverage {kind} epochs={label} n={n}: {cov:.4f} ({time.perf_counter() - t0:.0f}s)",
                file=sys.stderr,
            )
    lines.append("")


def type1_section(sets: int, lines: list[str]) -> None:
    lines += [
        "## 2. McNemar's test at a true gap of 0",
        "",
        "Share of data sets with p < 0.05 (target <= 5 %; the exact test is conservative).",
        "",
        "| test | epochs | n | rejections | ± 2 SE |",
        "|---|---|---|---|---|",
    ]
    a = a_for(0.75)
    for epochs in (1, 3):
        for n in (200, 1000):
            res = run_sets(binary(a, a, epochs), n, sets, 900 + 10 * epochs + n)
            rej = float(np.mean([g.p_value is not None and g.p_value < 0.05 for g in res]))
            name = "McNemar exact" if epochs == 1 else "clustered McNemar"
            lines.append(f"| {name} | {epochs} | {n:,} | {pct(rej)} | {pct(2 * se(rej, sets))} |")
    lines.append("")


def gate_section(sets: int, lines: list[str]) -> None:
    margin = 0.05
    lines += [
        "## 3. The gate's decisions around the margin",
        "",
        f"max_gap = {margin}; closed model passes 80 %; pass/fail, one epoch. A *false migrate* is "
        "'migrate' when the true gap is at (or beyond) the margin; its rate at the margin is the "
        "one-sided error of the 95 % interval, 2.5 % by construction.",
        "",
        "| n | true gap | migrate | stay | inconclusive |",
        "|---|---|---|---|---|",
    ]
    for n in (200, 1000):
        for gap in (0.0, margin / 2, margin, 2 * margin):
            res = run_sets(binary(a_for(0.8), a_for(0.8 - gap)), n, sets, 4000 + n + int(gap * 1000))
            got = [classify_gap(g.low, g.high, margin, g.n_examples) for g in res]
            m, s, i = (
                float(np.mean([x is status for x in got]))
                for status in (RuleStatus.PASS, RuleStatus.FAIL, RuleStatus.INCONCLUSIVE)
            )
            lines.append(f"| {n:,} | {gap:.3f} | {pct(m)} | {pct(s)} | {pct(i)} |")
    lines.append("")


def planning_section(sets: int, lines: list[str]) -> None:
    margin = 0.05
    a_c, a_o = a_for(0.8), a_for(0.78)
    gap = 0.02
    c, o, _ = binary(a_c, a_o)(np.random.default_rng(0), 2_000_000)
    sd = float(np.std(c - o))
    p10, p01 = float(np.mean((c == 1) & (o == 0))), float(np.mean((c == 0) & (o == 1)))
    lines += [
        "## 4. The sample-size formula",
        "",
        f"True gap {gap} (closed 80 %, open 78 %), discordance p10 = {p10:.3f}, p01 = {p01:.3f} "
        f"(per-example SD {sd:.3f}), max_gap {margin}. N is evalkit.stats.planning.examples_needed "
        "from the *true* values: at N(50 %) the interval's expected half-width is max_gap - gap, so "
        "the upper bound should fall below max_gap about half of the time; at N(80 %) about 80 %.",
        "",
        "| N from | N | P(upper bound <= max_gap) | ± 2 SE | mean half-width | max_gap - gap |",
        "|---|---|---|---|---|---|",
    ]
    for power in (0.5, 0.8):
        n = examples_needed(gap, sd, margin, power=power)
        assert n is not None
        res = run_sets(binary(a_c, a_o), n, sets, 7000 + int(100 * power))
        hit = float(np.mean([g.high <= margin for g in res]))
        hw = float(np.mean([g.half_width for g in res]))
        lines.append(
            f"| true values, {power:.0%} | {n:,} | {pct(hit)} | {pct(2 * se(hit, sets))} | "
            f"{100 * hw:.2f} pp | {100 * (margin - gap):.2f} pp |"
        )
    # plug-in: a pilot of 400 examples, then follow its advice
    rng = np.random.default_rng(8)
    n_hats: list[int] = []
    followed: list[bool] = []
    undecidable = 0
    for i in range(sets):
        c, o, _ = binary(a_c, a_o)(rng, 400)
        g = paired_gap(c, o, seed=i)
        n_hat = examples_needed(g.gap, g.sd_diff, margin, power=0.8) if g.gap < margin else None
        if n_hat is None:
            undecidable += 1
            continue
        n_hats.append(n_hat)
        if i < sets // 4:  # the follow-up run is the expensive part: a quarter of the pilots
            c2, o2, _ = binary(a_c, a_o)(rng, min(n_hat, 200_000))
            g2 = paired_gap(c2, o2, seed=10_000 + i)
            followed.append(classify_gap(g2.low, g2.high, margin, g2.n_examples) is RuleStatus.PASS)
    q = np.percentile(n_hats, [25, 50, 75])
    true80 = examples_needed(gap, sd, margin, power=0.8)
    lines += [
        "",
        f"Plug-in: from a pilot of 400 examples, N(80 %) computed from the *observed* gap and "
        f"discordance has median {int(q[1]):,} (quartiles {int(q[0]):,} – {int(q[2]):,}; true "
        f"{true80:,}); {undecidable} of {sets:,} pilots saw a gap >= max_gap and gave no migrate "
        f"target. Running a fresh data set of the advised size decided *migrate* in "
        f"{pct(float(np.mean(followed)))} of {len(followed):,} follow-ups: the plug-in estimate is "
        "noisy (the observed gap enters squared), so treat it as an order of magnitude.",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=2000, help="data sets per cell (default 2,000)")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("gap_simulation.md"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    lines = [
        "# Gap statistics: simulation",
        "",
        f"Written by `bench/gap_simulation.py` ({args.sets:,} data sets per cell, "
        f"{DEFAULT_RESAMPLES:,} bootstrap resamples each, fixed seeds). Latent-difficulty model: "
        f"P(pass) = Phi(a + {B} z + {C} u_model), z ~ N(0, 1) per example shared by both models, "
        "u_model ~ N(0, 1) per example and model. "
        "See docs/statistics.md for what is computed.",
        "",
    ]
    verdicts: list[bool] = []
    coverage_section(args.sets, lines, verdicts)
    type1_section(args.sets, lines)
    gate_section(args.sets, lines)
    planning_section(args.sets, lines)
    minutes = (time.perf_counter() - t0) / 60
    lines += [
        "## Summary",
        "",
        f"Coverage within 95 % ± 1.5 % in {sum(verdicts)} of {len(verdicts)} evalkit rows. "
        f"Run time {minutes:.1f} min.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
