"""The environment the code under test gets: built from an allow-list, never copied from ``os.environ``.

Nothing of the parent's environment reaches the code (no API keys, no ``EVALKIT_*``, no provider
or proxy variables, no ``PYTHON*`` flags): :func:`sandbox_env` is made of constants and the two
paths the sandbox chooses. :func:`engine_client_env` is for the ``docker``/``podman`` *client*
process on the host, which needs its own configuration variables; the container itself still gets
only :func:`sandbox_env` (passed with ``-e``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["SANDBOX_PATH", "engine_client_env", "sandbox_env"]

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"

_FIXED = {
    "PATH": SANDBOX_PATH,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TZ": "UTC",
    # Same hash seed every run: a solution that returns list(set(...)) gets the same verdict twice.
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONSAFEPATH": "1",
    "PYTHONNOUSERSITE": "1",
    "PYTHONIOENCODING": "utf-8",
}

_CLIENT_NAMES = {"PATH", "HOME", "USER", "LOGNAME", "TMPDIR"}
_CLIENT_PREFIXES = ("DOCKER_", "CONTAINER_", "CONTAINERS_", "PODMAN_", "XDG_")


def sandbox_env(home: str, tmp: str) -> dict[str, str]:
    """The whole environment of the sandboxed process: fixed values plus its home and temp folder."""
    return {**_FIXED, "HOME": home, "TMPDIR": tmp}


def engine_client_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the container engine's client needs from the host environment (socket, config, runtime dir)."""
    src = os.environ if environ is None else environ
    out = {k: v for k, v in src.items() if k in _CLIENT_NAMES or k.startswith(_CLIENT_PREFIXES)}
    out.setdefault("PATH", SANDBOX_PATH)
    return out
