"""Which shard of a run owns a sample: ``evalkit run --shard i/n``.

Shards are numbered from 1, as a CI matrix writes them (``--shard 1/4`` … ``--shard 4/4``, like
Playwright's and Jest's ``--shard``). A sample belongs to shard ``1 + (h mod n)`` where ``h`` is the
first 8 bytes (big-endian) of the SHA-256 of its id in UTF-8: the rule depends on nothing but the
id and ``n`` — not the row order, the Python hash seed or the machine — so the ``n`` shards are
disjoint and together cover every sample. A sample goes to its shard with every model and every
epoch, so each shard's report pairs the closed and open models on the same examples (a random
1/n subsample of the suite). ``evalkit merge`` (:mod:`evalkit.rundir.merge`) combines the shard folders.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.errors import ConfigError

__all__ = ["SHARD_RULE", "Shard", "parse_shard", "shard_index"]

SHARD_RULE = "sha256(sample_id)[:8] mod count, 1-based"
"""The assignment rule, recorded in run.json so that merge can refuse shards cut by another rule."""

_SYNTAX = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_index(sample_id: str, count: int) -> int:
    """The 1-based shard (of ``count``) that owns ``sample_id``."""
    digest = hashlib.sha256(sample_id.encode("utf-8", "surrogatepass")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 <= index <= count)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ValueError(f"invalid shard {self.index}/{self.count}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, sample_id: str) -> bool:
        """Whether this shard runs ``sample_id`` (with every model and epoch)."""
        return self.count == 1 or shard_index(sample_id, self.count) == self.index

    def count_in(self, sample_ids: Iterable[str]) -> int:
        """How many of ``sample_ids`` this shard owns."""
        return sum(1 for s in sample_ids if self.owns(s))

    def manifest(self) -> dict[str, Any]:
        """The ``shard`` object of run.json."""
        return {"index": self.index, "count": self.count, "rule": SHARD_RULE}

    @classmethod
    def from_manifest(cls, value: Any, where: str = "run.json") -> Shard | None:
        """The shard a run.json records (``None`` for an unsharded run); :class:`ConfigError` if malformed."""
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: 'shard' must be an object with 'index' and 'count'")
        index, count = value.get("index"), value.get("count")
        if (
            not isinstance(index, int)
            or not isinstance(count, int)
            or isinstance(index, bool)
            or isinstance(count, bool)
            or count < 1
            or not 1 <= index <= count
        ):
            raise ConfigError(f"{where}: 'shard' must have integers 1 <= index <= count, got {dict(value)}")
        return cls(index, count)


def parse_shard(text: str, flag: str = "--shard") -> Shard:
    """``"i/n"`` as a :class:`Shard`; :class:`ConfigError` (exit 2) with one line otherwise."""
    m = _SYNTAX.match(text)
    if m is None:
        raise ConfigError(f"{flag} {text!r}: expected i/n, e.g. {flag} 1/4 (shards are numbered 1 to n)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1:
        raise ConfigError(f"{flag} {text}: the number of shards must be at least 1")
    if not 1 <= index <= count:
        hint = f" (use 1/{count} … {count}/{count})" if index == 0 else ""
        raise ConfigError(f"{flag} {text}: the shard must be between 1 and {count}{hint}")
    return Shard(index, count)
