"""Stages 4–6, "turning a loaded suite into a ledger": the run's plan (:mod:`~evalkit.run.plan`, frozen)
and live state (:mod:`~evalkit.run.state`), the pending work (:mod:`~evalkit.run.work`), the one
recorder where every result lands (:mod:`~evalkit.run.recorder`) whether it came from the network
(:mod:`~evalkit.run.live`), the cache (:mod:`~evalkit.run.cached`), a recorded baseline
(:mod:`~evalkit.run.recorded`) or a batch API (:mod:`~evalkit.run.batch`), the response cache, the
budget, the progress display, and the orchestration in four phases (:mod:`~evalkit.run.runner`)."""
