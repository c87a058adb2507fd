"""The statistics behind every score, gap and verdict (docs/statistics.md explains them).

* :mod:`~evalkit.stats.intervals` — one model's mean: Wilson, bootstrap, cluster bootstrap.
* :mod:`~evalkit.stats.paired` — closed minus open on the same examples: the paired (cluster)
  bootstrap interval and McNemar's exact / clustered test.
* :mod:`~evalkit.stats.multiple` — Holm's correction over several slices, models or tasks.
* :mod:`~evalkit.stats.repeats` — the flip rate across epochs.
* :mod:`~evalkit.stats.planning` — the half-width now and the examples needed to decide.
* :mod:`~evalkit.stats.partial` — a partial migration: which slices can move (Holm-corrected,
  :mod:`~evalkit.stats.selection`, over the slicings of :mod:`~evalkit.stats.slicing`) and the blend
  measured on held-out examples (:mod:`~evalkit.stats.blend`).
"""

from evalkit.stats.blend import BlendEstimate, measure, measure_routing, split_halves
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
from evalkit.stats.partial import (
    BlendOutcome,
    PartialMigration,
    SliceShare,
    partial_migration,
    partial_migration_exists,
)
from evalkit.stats.planning import SampleSizePlan, examples_needed, plan_sample_size
from evalkit.stats.repeats import FlipRate, flip_rate
from evalkit.stats.selection import RouteChoice, Selection, SliceVerdict, select_slices
from evalkit.stats.slicing import (
    LENGTH_FIELD,
    BlendData,
    LengthBuckets,
    Slicing,
    blend_data,
    length_buckets,
    slicings,
)

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "LENGTH_FIELD",
    "MIN_RELIABLE_N",
    "BlendData",
    "BlendEstimate",
    "BlendOutcome",
    "FlipRate",
    "Interval",
    "LengthBuckets",
    "PairedGap",
    "PartialMigration",
    "RouteChoice",
    "SampleSizePlan",
    "Selection",
    "SliceShare",
    "SliceVerdict",
    "Slicing",
    "all_equal_bounds",
    "blend_data",
    "bootstrap_interval",
    "bootstrap_means",
    "cluster_means",
    "clustered_mcnemar_p",
    "examples_needed",
    "flip_rate",
    "holm",
    "is_binary",
    "length_buckets",
    "mcnemar_exact_p",
    "mean_interval",
    "measure",
    "measure_routing",
    "paired_gap",
    "paired_t_p",
    "partial_migration",
    "partial_migration_exists",
    "plan_sample_size",
    "quantiles",
    "select_slices",
    "slicings",
    "split_halves",
    "wilson_interval",
    "z_value",
]
