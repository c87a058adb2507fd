"""The providers' limits on one batch, and splitting a model's lines to fit them.

OpenAI: 50,000 requests and 200 MB per input file; Anthropic: 100,000 requests and 256 MB per
batch. ``$EVALKIT_BATCH_MAX_REQUESTS`` / ``$EVALKIT_BATCH_MAX_BYTES`` lower them (never raise
them), for tests and for providers' per-organisation queue limits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from evalkit.errors import ConfigError
from evalkit.providers.batch.types import BatchLine

__all__ = ["LIMITS", "Limits", "limits_for", "split"]


@dataclass(frozen=True)
class Limits:
    max_requests: int
    max_bytes: int


LIMITS = {
    "openai": Limits(50_000, 200 * 1024 * 1024),
    "anthropic": Limits(100_000, 256 * 1024 * 1024),
}


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"${name}: expected a whole number, got '{raw}'") from None
    if value < 1:
        raise ConfigError(f"${name}: must be at least 1, got {value}")
    return value


def limits_for(provider: str) -> Limits:
    """The provider's limits, lowered by the environment overrides."""
    base = LIMITS[provider]
    n, b = _env_int("EVALKIT_BATCH_MAX_REQUESTS"), _env_int("EVALKIT_BATCH_MAX_BYTES")
    return Limits(min(base.max_requests, n or base.max_requests), min(base.max_bytes, b or base.max_bytes))


def split(lines: Iterable[BatchLine], limits: Limits, *, overhead: int = 0) -> Iterator[list[BatchLine]]:
    """Consecutive chunks of ``lines``, each within ``limits`` (``overhead`` bytes per chunk aside).

    A single line bigger than ``max_bytes`` cannot be sent as a batch: :class:`ConfigError` naming it.
    """
    chunk: list[BatchLine] = []
    size = overhead
    for line in lines:
        if line.size + overhead > limits.max_bytes:
            raise ConfigError(
                f"sample {line.sample_id}: its batch request is {line.size} bytes, over the provider's "
                f"{limits.max_bytes}-byte batch limit"
            )
        if chunk and (len(chunk) >= limits.max_requests or size + line.size > limits.max_bytes):
            yield chunk
            chunk, size = [], overhead
        chunk.append(line)
        size += line.size
    if chunk:
        yield chunk
