"""Run untrusted (model-written) code: one fresh, isolated, limited process per sample.

A leaf package: it imports nothing of evalkit but :mod:`evalkit.errors`. The pieces:

* :mod:`~evalkit.sandbox.spec` — the nouns: :class:`Unit`, :class:`Limits`, :class:`Execution`.
* :mod:`~evalkit.sandbox.backends` — container, namespaces and process backends.
* :mod:`~evalkit.sandbox.select` — which one works here (``auto``) and the probes.
* :mod:`~evalkit.sandbox.execute` — the parent's half of the protocol, deadlines and kills.
* :mod:`~evalkit.sandbox.sandbox` — :class:`Sandbox`, with a bound on parallel runs.
* ``_child.py`` — the program that runs inside (standard library only, passed to ``python -c``).

``docs/scorers.md`` ("Sandboxed code execution") says what each backend guarantees and what not.
"""

from evalkit.sandbox.backends import DEFAULT_IMAGE
from evalkit.sandbox.env import sandbox_env
from evalkit.sandbox.sandbox import Sandbox, open_sandbox
from evalkit.sandbox.select import KINDS, SandboxUnavailable, choose_backend, run_sync
from evalkit.sandbox.spec import Execution, Limits, Status, Unit, UnitResult

__all__ = [
    "DEFAULT_IMAGE",
    "KINDS",
    "Execution",
    "Limits",
    "Sandbox",
    "SandboxUnavailable",
    "Status",
    "Unit",
    "UnitResult",
    "choose_backend",
    "open_sandbox",
    "run_sync",
    "sandbox_env",
]
