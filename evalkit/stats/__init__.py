"""The statistics behind every score, gap and verdict (docs/statistics.md explains them).

* :mod:`~evalkit.stats.intervals` — one model's mean: Wilson, bootstrap, cluster bootstrap.
* :mod:`~evalkit.stats.paired` — closed minus open on the same examples: the paired (cluster)
  bootstrap interval and McNemar's exact / clustered test.
* :mod:`~evalkit.stats.multiple` — Holm's correction over several slices, models or tasks.
* :mod:`~evalkit.stats.repeats` — the flip rate across epochs.
* :mod:`~evalkit.stats.planning` — the half-width now and the examples needed to decide.
"""

from evalkit.stats.intervals import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_RELIABLE_N,
    Interval,
    all_equal_bounds,
    bootstrap_interval,
    bootstrap_means,
    cluster_means,
    is_binary,
    mean_interval,
    quantiles,
    wilson_interval,
    z_value,
)
from evalkit.stats.multiple import holm
from evalkit.stats.paired import PairedGap, clustered_mcnemar_p, mcnemar_exact_p, paired_gap, paired_t_p
from evalkit.stats.planning import SampleSizePlan, examples_needed, plan_sample_size
from evalkit.stats.repeats import FlipRate, flip_rate

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "MIN_RELIABLE_N",
    "FlipRate",
    "Interval",
    "PairedGap",
    "SampleSizePlan",
    "all_equal_bounds",
    "bootstrap_interval",
    "bootstrap_means",
    "cluster_means",
    "clustered_mcnemar_p",
    "examples_needed",
    "flip_rate",
    "holm",
    "is_binary",
    "mcnemar_exact_p",
    "mean_interval",
    "paired_gap",
    "paired_t_p",
    "plan_sample_size",
    "quantiles",
    "wilson_interval",
    "z_value",
]
