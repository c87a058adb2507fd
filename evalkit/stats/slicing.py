"""The nouns of a partial migration: one closed and one open model's paired values, and the ways
to cut the examples into slices (each ``tags`` field, and input-length buckets).

* :class:`BlendData` — per cell (sample, epoch) the closed model's value and the open model's,
  the example each cell belongs to (the unit of pairing, resampling and routing), and per
  *example* its tag values and the characters of its input. :func:`blend_data` builds it from
  per-cell lists, as the ledger gives them.
* :class:`LengthBuckets` — input-length ranges fixed **by rule, before any score is read**: the
  ``k`` buckets cut at the ``j/k`` quantiles of the examples' input characters (``[lo, hi)``,
  the last one open-ended). They depend on the inputs only, so cutting them on every example
  (the held-out folds included) leaks nothing about the scores.
* :class:`Slicing` — one field (a tag, or :data:`LENGTH_FIELD`): its slice labels and each
  example's slice. An example without the field is in no slice: it is never routed to the open
  model (a routing layer sends it to the default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from evalkit.stats.intervals import FloatArray, as_array

__all__ = [
    "DEFAULT_LENGTH_BUCKETS",
    "LENGTH_FIELD",
    "BlendData",
    "LengthBuckets",
    "Slicing",
    "blend_data",
    "length_buckets",
    "slicings",
]

LENGTH_FIELD = "input_chars"
"""The built-in slicing's field name: characters (Unicode code points) of the sample's input."""
DEFAULT_LENGTH_BUCKETS = 3
"""Short / medium / long: the tertiles of the input characters."""

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class LengthBuckets:
    """Input-length ranges: bucket j holds ``lows[j] <= chars < lows[j + 1]`` (the last has no upper end)."""

    lows: tuple[int, ...]
    """The lower edge of each bucket, increasing; the first is 0."""

    def bucket(self, chars: npt.ArrayLike) -> IntArray:
        """The bucket index of each character count."""
        return np.searchsorted(np.asarray(self.lows[1:]), np.asarray(chars), side="right").astype(np.int64)

    @property
    def ranges(self) -> tuple[tuple[int, int | None], ...]:
        """``(min, max)`` per bucket: min inclusive, max exclusive, ``None`` for no upper end."""
        highs: list[int | None] = [*self.lows[1:], None]
        return tuple(zip(self.lows, highs, strict=True))

    @property
    def labels(self) -> tuple[str, ...]:
        """``<52 chars``, ``52-97 chars``, ``>=98 chars`` (inclusive bounds, as a person reads them)."""
        out = []
        for lo, hi in self.ranges:
            if hi is None:
                out.append(f">={lo} chars" if lo > 0 else "any length")
            elif lo == 0:
                out.append(f"<{hi} chars")
            else:
                out.append(f"{lo}-{hi - 1} chars")
        return tuple(out)


def length_buckets(chars: Sequence[int] | npt.ArrayLike, k: int = DEFAULT_LENGTH_BUCKETS) -> LengthBuckets:
    """``k`` buckets cut at the ``j/k`` quantiles (j = 1 .. k-1) of ``chars``, one count per example.

    Bucket j (j >= 1) starts at the count in position ``ceil(j n / k)`` (0-based) of the sorted
    counts, so about a k-th of the examples fall in each bucket; an edge equal to the previous one
    or to the shortest count (many equal lengths) is dropped, so there may be fewer than ``k``
    buckets, none of them empty. Scores play no part.
    """
    if k < 1:
        raise ValueError(f"length buckets must be at least 1, got {k}")
    arr = np.sort(np.asarray(chars, dtype=np.int64))
    if arr.size and int(arr[0]) < 0:
        raise ValueError("input characters must be non-negative")
    lows = [0]
    n = int(arr.size)
    for j in range(1, k):
        pos = -(-j * n // k)  # ceil(j n / k): the first example of bucket j, 0-based
        if pos >= n:
            break
        edge = int(arr[pos])
        if edge > lows[-1] and edge > int(arr[0]):  # never an empty bucket below the shortest input
            lows.append(edge)
    return LengthBuckets(tuple(lows))


@dataclass(frozen=True, slots=True, eq=False)
class Slicing:
    """One way to cut the examples: a field and each example's slice in it."""

    field: str
    kind: Literal["tag", "length"]
    labels: tuple[str, ...]
    """The slice labels: the tag values (sorted), or the length buckets' labels."""
    codes: IntArray
    """Per example: the index of its slice in :attr:`labels`, or -1 when it has no value for the field."""
    buckets: LengthBuckets | None = None
    """The ranges, for the length slicing."""

    def members(self, label: str) -> npt.NDArray[np.bool_]:
        """The examples of slice ``label`` (a boolean mask over examples)."""
        return self.codes == self.labels.index(label)


@dataclass(frozen=True, slots=True, eq=False)
class BlendData:
    """Paired closed and open values per cell, and each example's slice keys.

    ``closed[i]`` and ``open_[i]`` are the same sample and epoch; ``example[i]`` is its example's
    index (0 .. n_examples - 1). ``tags[field][e]`` is example e's value of a tag field (``None``:
    absent); ``input_chars[e]`` the characters of its input.
    """

    closed: FloatArray
    open_: FloatArray
    example: IntArray
    tags: Mapping[str, tuple[str | None, ...]]
    input_chars: IntArray
    sample_ids: tuple[str, ...] = ()
    """Per example, for display; may be empty."""

    def __post_init__(self) -> None:
        n = self.n_examples
        if self.closed.shape != self.open_.shape or self.closed.shape != self.example.shape:
            raise ValueError("closed, open_ and example must have one entry per cell")
        if not (np.all(np.isfinite(self.closed)) and np.all(np.isfinite(self.open_))):
            raise ValueError("paired values must be finite")
        if self.example.size and (int(self.example.min()) < 0 or int(self.example.max()) >= n):
            raise ValueError(f"example indices must be in 0 .. {n - 1}")
        if np.unique(self.example).size != n:
            raise ValueError("every example needs at least one paired cell")
        for name, values in self.tags.items():
            if len(values) != n:
                raise ValueError(f"tag {name!r} must have one value per example ({len(values)} != {n})")
        if self.sample_ids and len(self.sample_ids) != n:
            raise ValueError("sample_ids must have one id per example")

    @property
    def n_examples(self) -> int:
        return int(self.input_chars.size)

    @property
    def clustered(self) -> bool:
        """Some example has several cells (epochs): intervals resample examples, epochs together."""
        return self.example.size != self.n_examples

    def cells_of(self, examples: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """The cells whose example is in the boolean mask ``examples``."""
        return examples[self.example]


def blend_data(
    closed: Sequence[float] | FloatArray,
    open_: Sequence[float] | FloatArray,
    *,
    tags: Sequence[Mapping[str, str]],
    input_chars: Sequence[int],
    clusters: Sequence[object] | None = None,
) -> BlendData:
    """Build :class:`BlendData` from per-cell lists (one entry per paired cell, as in the ledger).

    ``clusters`` (e.g. the sample id of each cell) groups the epochs of one example; without it
    each cell is its own example. An example's tags and input length are read from its first cell.
    """
    c, o = as_array(closed), as_array(open_)
    n = int(c.size)
    if len(tags) != n or len(input_chars) != n or (clusters is not None and len(clusters) != n):
        raise ValueError("tags, input_chars and clusters must have one entry per cell")
    keys: Sequence[object] = clusters if clusters is not None else range(n)
    index: dict[object, int] = {}
    example = np.fromiter((index.setdefault(k, len(index)) for k in keys), dtype=np.int64, count=n)
    first = [0] * len(index)
    for cell in range(n - 1, -1, -1):
        first[int(example[cell])] = cell
    fields = sorted({f for t in tags for f in t})
    per_example = {f: tuple(tags[cell].get(f) for cell in first) for f in fields}
    chars = np.asarray([int(input_chars[cell]) for cell in first], dtype=np.int64)
    ids = tuple(str(k) for k in index) if clusters is not None else ()
    return BlendData(c, o, example, per_example, chars, ids)


def slicings(
    data: BlendData, *, fields: Sequence[str] | None = None, buckets: int = DEFAULT_LENGTH_BUCKETS
) -> tuple[Slicing, ...]:
    """The slicings considered: each tag field (``fields``, default every field of ``data``) and,
    unless ``buckets`` is 0, the input-length buckets (:func:`length_buckets`)."""
    out: list[Slicing] = []
    for name in data.tags if fields is None else fields:
        if name not in data.tags:
            raise ValueError(f"no tag field {name!r} in the data (fields: {', '.join(data.tags) or 'none'})")
        values = data.tags[name]
        labels = tuple(sorted({v for v in values if v is not None}))
        lookup = {v: i for i, v in enumerate(labels)}
        codes = np.asarray([-1 if v is None else lookup[v] for v in values], dtype=np.int64)
        out.append(Slicing(name, "tag", labels, codes))
    if buckets:
        lb = length_buckets(data.input_chars, buckets)
        out.append(Slicing(LENGTH_FIELD, "length", lb.labels, lb.bucket(data.input_chars), lb))
    return tuple(out)
