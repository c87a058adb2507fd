"""The run folder as a format, readable without the engine: the manifest (``run.json``, owned by
:mod:`~evalkit.rundir.manifest`), the ledger (``samples.jsonl``, :mod:`~evalkit.rundir.ledger`), the
batch state (``batches.json``, :mod:`~evalkit.rundir.batches`), the shard rule
(:mod:`~evalkit.rundir.shard`) and merging shard folders (:mod:`~evalkit.rundir.merge`). docs/run-folder.md."""
