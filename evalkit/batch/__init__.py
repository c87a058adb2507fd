"""Provider batch APIs (the closed side): OpenAI's Batch API and Anthropic's Message Batches.

``evalkit run --batch`` (or ``batch: true`` on a model) sends a model's pending cells as batches
instead of live requests: half the price, results within 24 h. The flow is in :mod:`evalkit.batch.run`,
the on-disk state (``batches.json``, written before any polling) in :mod:`evalkit.rundir.batches`, the
providers' limits in :mod:`evalkit.providers.batch.split`, one client per provider in
:mod:`evalkit.providers.batch.openai_batch` and :mod:`evalkit.providers.batch.anthropic_batch`. docs/scaling-batch.md.
"""

from __future__ import annotations

from evalkit.config.catalog import BATCH_PROVIDERS

__all__ = ["BATCH_PROVIDERS"]
