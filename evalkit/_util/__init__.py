"""Small helpers every stage shares, each written once: reading JSON/JSONL/YAML with ``file:line``
errors and atomic writes (:mod:`~evalkit._util.io`), "did you mean" (:mod:`~evalkit._util.names`),
and redaction of secrets (:mod:`~evalkit._util.redact`). Leaves: they import nothing of evalkit but
:mod:`evalkit.errors`."""
