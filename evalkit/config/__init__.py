"""Stages 1–3, "what will run": the suite file's schema (:mod:`~evalkit.config.schema`), loading and
checking it (:mod:`~evalkit.config.load`), the dataset (:mod:`~evalkit.config.dataset`), the prompt
(:mod:`~evalkit.config.prompt`), the user price file (:mod:`~evalkit.config.prices`) and the catalog of
providers and embedded models (:mod:`~evalkit.config.catalog`). No network, no LiteLLM."""
