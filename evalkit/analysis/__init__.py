"""Stages 7 and 9, over a run folder alone (no network, no keys, no LiteLLM): per model × scorer × slice
summaries (:mod:`~evalkit.analysis.aggregate` into :mod:`~evalkit.analysis.summary`), token, cost and
latency (:mod:`~evalkit.analysis.usage`), the paired closed-vs-open gaps (:mod:`~evalkit.analysis.gaps`),
the gate's decision (:mod:`~evalkit.analysis.gate`) and the cross-task table
(:mod:`~evalkit.analysis.compare`). docs/statistics.md."""
