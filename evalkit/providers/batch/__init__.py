"""The providers' batch APIs (the closed side): OpenAI's Batch API and Anthropic's Message Batches —
one client per provider, their limits (:mod:`~evalkit.providers.batch.split`), request bodies and the
result lines turned into completions. The run's side of a batch (submit, poll, write) is
:mod:`evalkit.run.batch`; its on-disk state is :mod:`evalkit.rundir.batches`. docs/scaling-batch.md."""
