"""Stage 4's seam, the only package that imports LiteLLM (and the providers' batch SDKs).

:mod:`~evalkit.providers.retry` (:func:`~evalkit.providers.retry.complete`, the one function every
model call goes through) around :mod:`~evalkit.providers.litellm` (one attempt, errors as data);
credentials, prices, the adaptive limiter, replicas, the worker pool, the preflight ``doctor``, the
embedded llama.cpp servers (:mod:`~evalkit.providers.local`) and the batch APIs
(:mod:`~evalkit.providers.batch`). Importing this package imports none of them (nor LiteLLM).
"""
