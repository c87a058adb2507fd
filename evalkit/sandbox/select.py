"""Pick the strongest sandbox that works here, or the one the user forces, once per process.

``auto`` tries, in order: a container engine that answers and has the image locally (nothing is
pulled at run time), Linux namespaces through ``unshare``, then a plain process. Each candidate
must pass a probe (a tiny program that checks it does not run as root) before it is chosen; the
reasons the stronger ones were skipped are kept as notes for the report. A forced kind that does
not work is a :class:`SandboxUnavailable` (a :class:`~evalkit.errors.ConfigError`): the suite stops
at load, never mid-run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from evalkit.errors import ConfigError
from evalkit.sandbox.backends import (
    DEFAULT_IMAGE,
    Backend,
    ContainerBackend,
    NamespacesBackend,
    ProcessBackend,
    world_usable,
)
from evalkit.sandbox.env import engine_client_env
from evalkit.sandbox.execute import execute
from evalkit.sandbox.spec import Limits, Status, Unit

__all__ = ["KINDS", "SandboxUnavailable", "choose_backend", "run_sync"]

KINDS = ("auto", "container", "namespaces", "process")

_PROBE = [Unit("<probe>", "import os\nassert os.getuid() != 0, 'the code would run as root'\n", "solution")]
_PROBE_LIMITS = Limits(timeout_s=20, startup_s=60)
_CACHE: dict[tuple[Any, ...], tuple[Backend, tuple[str, ...]] | str] = {}
_LOCK = threading.Lock()
T = TypeVar("T")


def _euid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else -1


class SandboxUnavailable(ConfigError):
    """The sandbox asked for cannot run here (the message says why and what to do)."""


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end from sync code, in a private loop (in a thread if one is running here)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target, name="evalkit-sandbox-sync")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _probe(backend: Backend) -> str | None:
    """None when ``backend`` runs the probe; otherwise why not."""
    result = run_sync(lambda: execute(backend, _PROBE, _PROBE_LIMITS))
    if result.status is Status.COMPLETED:
        return None
    if result.status is Status.SANDBOX_ERROR:
        return result.detail
    failure = result.first_failure
    if failure is not None:
        return f"the probe failed: {failure.error_type}: {failure.message}"
    return f"the probe ended with status {result.status}: {result.detail}"


def _quiet(argv: list[str], timeout: float) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=engine_client_env(),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    text = (done.stderr or done.stdout or "").strip()
    return done.returncode, text.splitlines()[-1] if text else ""


def _container(engine: str | None, image: str) -> tuple[Backend | None, str]:
    found = engine or shutil.which("docker") or shutil.which("podman")
    if found is None:
        return None, "container: no docker or podman on PATH"
    exe = shutil.which(found) or found
    name = os.path.basename(exe)
    rc, msg = _quiet([exe, "info"], 15)
    if rc != 0:
        return None, f"container: {name} is installed but has no working engine ({msg[:160] or f'exit {rc}'})"
    rc, msg = _quiet([exe, "image", "inspect", image], 15)
    if rc != 0:
        return None, f"container: image {image} is not present locally (run `{name} pull {image}`)"
    backend = ContainerBackend(python="python3", engine=exe, image=image)
    why = _probe(backend)
    return (backend, "") if why is None else (None, f"container: {why}")


def _namespaces(python: str) -> tuple[Backend | None, str]:
    if not sys.platform.startswith("linux"):
        return None, f"namespaces: Linux only (this is {sys.platform})"
    unshare = shutil.which("unshare") or ("/usr/bin/unshare" if os.path.exists("/usr/bin/unshare") else None)
    if unshare is None:
        return None, "namespaces: no unshare (util-linux) on PATH"
    backend = NamespacesBackend(python=python, unshare=unshare, as_root=_euid() == 0)
    why = _probe(backend)
    if why is not None:
        hint = "" if _euid() == 0 else " (are unprivileged user namespaces disabled?)"
        return None, f"namespaces: {why}{hint}"
    return backend, ""


def _process_python(python: str | None) -> str | None:
    if _euid() != 0:
        return python or sys.executable
    # As root the code runs as a fresh uid, which must be able to run the interpreter.
    candidates = [python] if python else [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]
    return next((p for p in candidates if p and os.path.exists(p) and world_usable(p)), None)


def _process(python: str | None) -> tuple[Backend | None, str]:
    chosen = _process_python(python)
    if chosen is None:
        return None, (
            "process: as root the code runs as an unprivileged uid, which cannot run "
            f"{python or sys.executable} (a folder on its path is private); give python: a world-readable interpreter"
        )
    backend = ProcessBackend(python=chosen, as_root=_euid() == 0)
    why = _probe(backend)
    return (backend, "") if why is None else (None, f"process: {why}")


def choose_backend(
    kind: str = "auto", *, python: str | None = None, image: str = DEFAULT_IMAGE, engine: str | None = None
) -> tuple[Backend, tuple[str, ...]]:
    """The backend to use and the notes on stronger ones skipped; cached per process.

    Raises :class:`SandboxUnavailable` when ``kind`` is forced and does not work, or nothing works.
    """
    if kind not in KINDS:
        raise SandboxUnavailable(f"sandbox must be one of {', '.join(KINDS)} (got {kind!r})")
    key = (kind, python, image, engine, _euid())
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = _CACHE[key] = _choose(kind, python, image, engine)
    if isinstance(cached, str):
        raise SandboxUnavailable(cached)
    return cached


def _choose(
    kind: str, python: str | None, image: str, engine: str | None
) -> tuple[Backend, tuple[str, ...]] | str:
    order = ["container", "namespaces", "process"] if kind == "auto" else [kind]
    notes: list[str] = []
    for k in order:
        if k == "container":
            backend, why = _container(engine, image)
        elif k == "namespaces":
            backend, why = _namespaces(python or sys.executable)
        else:
            backend, why = _process(python)
        if backend is not None:
            return backend, tuple(notes)
        notes.append(why)
    if kind == "auto":
        return "no sandbox works here: " + "; ".join(notes)
    return f"sandbox: {kind} is not available: {notes[-1]}"
