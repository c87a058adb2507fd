"""The three ways a sample's code is started, strongest first: container, namespaces, process.

Each backend turns a per-sample work folder into a :class:`Launch` (the command, its environment,
and the fields the child runner needs) and knows how to clean up after it. None of them trusts
the code: the child runner (``_child.py``) sets its own limits inside; the parent enforces the wall
clock and kills the whole process group (and, per backend, the container or the sandbox's uid).

* :class:`ContainerBackend` — ``docker``/``podman run`` with no network, a read-only image, tmpfs
  work folders, all capabilities dropped, an unprivileged user, pids and memory limits.
* :class:`NamespacesBackend` — ``unshare`` (util-linux): new PID, network, mount, IPC and UTS
  namespaces (plus a user namespace when not root); the child pivots into a fresh tmpfs holding a
  read-only view of ``/usr`` and the interpreter, and runs the code as an unprivileged uid.
* :class:`ProcessBackend` — a plain child process with rlimits, in its own folder; as root it
  drops to a random unprivileged uid so the limits apply. The weak fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.sandbox.env import engine_client_env, sandbox_env
from evalkit.sandbox.spec import Limits

__all__ = [
    "CHILD_SOURCE",
    "DEFAULT_IMAGE",
    "Backend",
    "ContainerBackend",
    "Launch",
    "NamespacesBackend",
    "ProcessBackend",
    "kill_uid",
    "world_usable",
]

CHILD_SOURCE = "\n".join(
    [
        Path(__file__).with_name("_jail.py").read_text(encoding="utf-8"),
        "_JAIL_LOADED = True",
        Path(__file__).with_name("_child.py").read_text(encoding="utf-8"),
    ]
)
"""The child runner's source, passed to ``python -c`` (so nothing needs to exist inside the sandbox)."""
DEFAULT_IMAGE = "python:3.11-slim"

_UID_BASE = 0x70000000
"""Sandboxed code runs as ``_UID_BASE + random`` (as root): a uid no account uses, fresh per sample,
so RLIMIT_NPROC counts this sample's processes only and no two samples share files or signals."""
_UID_SPAN = 1 << 24
_NS_USER_UID = 1000
"""The uid the code has inside a nested user namespace (non-root hosts)."""
_CONTAINER_UID = 65534


def _fresh_uid() -> int:
    return _UID_BASE + secrets.randbelow(_UID_SPAN)


@dataclass(frozen=True)
class Launch:
    """How to start one sample's sandbox."""

    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    job: dict[str, Any]
    """Fields for the child runner: ``mode`` and, per mode, ``uid``/``gid``/``root``/``workdir``."""
    container: str | None = None
    """The container's name, to kill and remove it."""
    uid: int | None = None
    """The host uid the code runs as when it is this sample's own (killed wholesale at the end)."""


@dataclass
class Backend:
    """A way to start the child runner. Subclasses fill in :meth:`launch` and :meth:`isolation`."""

    python: str
    prefix: tuple[str, ...] = ()
    """Put before the command (tests use ``setpriv --reuid=N ...`` to play a non-root user as root)."""
    name: str = field(init=False, default="")

    def launch(self, workdir: str, limits: Limits, nonce: str) -> Launch:
        raise NotImplementedError

    def isolation(self) -> str:
        """One sentence: what the code is kept from (for the report)."""
        raise NotImplementedError

    def kill(self, launch: Launch, pid: int, job_pid: int | None, job_reaped: bool) -> None:
        """SIGKILL the sandbox's process group (``pid`` leads it); backends add what else may be left."""
        _killpg(pid)

    async def cleanup(self, launch: Launch) -> None:
        """After the run: remove what the sample may have left behind (a container, a uid's processes)."""
        return None

    def _python_argv(self, *, site: bool = False) -> list[str]:
        # -s: no user site; -S: no site-packages (the standard library only); -B: no .pyc writes.
        return [self.python, "-s", *([] if site else ["-S"]), "-B", "-c", CHILD_SOURCE]

    def _argv(self, *args: str) -> list[str]:
        return [*self.prefix, *args]


@dataclass
class NamespacesBackend(Backend):
    unshare: str = "unshare"
    as_root: bool = True

    def __post_init__(self) -> None:
        self.name = "namespaces"

    def launch(self, workdir: str, limits: Limits, nonce: str) -> Launch:
        user = [] if self.as_root else ["--user", "--map-root-user"]
        argv = self._argv(
            self.unshare,
            *user,
            "--mount",
            "--net",
            "--pid",
            "--ipc",
            "--uts",
            "--fork",
            "--kill-child=SIGKILL",
            "--",
            *self._python_argv(),
        )
        if self.as_root:
            uid = _fresh_uid()
            job = {"mode": "ns-root", "uid": uid, "gid": uid, "root": workdir}
        else:
            job = {"mode": "ns-user", "uid": _NS_USER_UID, "gid": _NS_USER_UID, "root": workdir}
        return Launch(argv, sandbox_env("/sandbox", "/tmp"), workdir, job)

    def isolation(self) -> str:
        who = (
            "a fresh unprivileged uid with no capabilities"
            if self.as_root
            else "an unprivileged uid in a nested user namespace, with no capabilities"
        )
        return (
            f"new {'PID' if self.as_root else 'user, PID'}, network, mount, IPC and UTS namespaces "
            f"(unshare); the code runs as {who}, sees only a read-only /usr and the Python standard "
            "library plus its own /sandbox and /tmp (tmpfs), has no network and sees no other process"
        )


@dataclass
class ProcessBackend(Backend):
    as_root: bool = False

    def __post_init__(self) -> None:
        self.name = "process"

    def launch(self, workdir: str, limits: Limits, nonce: str) -> Launch:
        job: dict[str, Any] = {"mode": "process", "workdir": workdir}
        uid = None
        if self.as_root:
            uid = _fresh_uid()
            os.chown(workdir, uid, uid)
            os.chmod(workdir, 0o700)
            job.update(uid=uid, gid=uid)
        return Launch(self._argv(*self._python_argv()), sandbox_env(workdir, workdir), workdir, job, uid=uid)

    def kill(self, launch: Launch, pid: int, job_pid: int | None, job_reaped: bool) -> None:
        # The job leads its own group. While it is not reaped its pid cannot be reused, so kill its
        # group first; once the init has reaped it, the init has already killed that group.
        if job_pid is not None and not job_reaped:
            _killpg(job_pid)
        _killpg(pid)

    async def cleanup(self, launch: Launch) -> None:
        if launch.uid is not None:
            await kill_uid(launch.uid, self.python)

    def isolation(self) -> str:
        if self.as_root:
            return (
                "a separate process in its own folder, as a fresh unprivileged uid, with rlimits; it shares "
                "the host's network and file system (readable files can be read; world-writable places written)"
            )
        return (
            "a separate process in its own folder with rlimits, as your own user: it shares your network "
            "and your files and can signal your processes (no namespaces were available)"
        )


@dataclass
class ContainerBackend(Backend):
    engine: str = "docker"
    image: str = DEFAULT_IMAGE

    def __post_init__(self) -> None:
        self.name = "container"

    def launch(self, workdir: str, limits: Limits, nonce: str) -> Launch:
        name = f"evalkit-sandbox-{nonce[:16]}"
        env = sandbox_env("/sandbox", "/tmp")
        tmpfs = f"rw,nosuid,nodev,size={limits.disk_mb}m,mode=1777"
        argv = [
            self.engine,
            "run",
            "--rm",
            "-i",
            "--name",
            name,
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            f"/sandbox:{tmpfs}",
            "--tmpfs",
            f"/tmp:{tmpfs}",
            "--workdir",
            "/sandbox",
            "--user",
            f"{_CONTAINER_UID}:{_CONTAINER_UID}",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            str(limits.processes + 4),
            "--memory",
            f"{limits.memory_mb + 64}m",
            "--memory-swap",
            f"{limits.memory_mb + 64}m",
            "--cpus",
            "1",
        ]
        for key, value in env.items():
            argv += ["-e", f"{key}={value}"]
        argv += [self.image, "python3", "-s", "-B", "-c", CHILD_SOURCE]
        return Launch(argv, engine_client_env(), None, {"mode": "container"}, container=name)

    async def cleanup(self, launch: Launch) -> None:
        if launch.container is None:
            return
        try:
            proc = await asyncio.create_subprocess_exec(
                self.engine,
                "rm",
                "-f",
                launch.container,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                env=engine_client_env(),
            )
            await asyncio.wait_for(proc.wait(), 30)
        except (OSError, TimeoutError):
            pass

    def isolation(self) -> str:
        return (
            f"a {Path(self.engine).name} container of image {self.image}: no network, read-only image, "
            "tmpfs /sandbox and /tmp, all capabilities dropped, no new privileges, an unprivileged user, "
            "a pids limit and a memory cap on the whole container"
        )


_KILL_ALL = "import os, signal\nos.kill(-1, signal.SIGKILL)\n"


def _killpg(pgid: int) -> None:
    if pgid > 1:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


async def kill_uid(uid: int, python: str) -> None:
    """SIGKILL every process of ``uid`` (a sample's own uid; needs root), detached ones included.

    A helper running *as* ``uid`` calls ``kill(-1)``: it can reach exactly that uid's processes,
    so there is no scan of /proc that could hit a recycled pid of someone else.
    """
    if os.getuid() != 0 or uid in (0, os.getuid()):
        return  # never: that would be everything, or us
    try:
        proc = await asyncio.create_subprocess_exec(
            python,
            "-S",
            "-c",
            _KILL_ALL,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=sandbox_env("/", "/tmp"),
            cwd="/",
            user=uid,
            group=uid,
            extra_groups=[],
        )
        await asyncio.wait_for(proc.wait(), 10)
    except (OSError, TimeoutError):
        pass


def world_usable(python: str) -> bool:
    """True when any user can run ``python`` and read its standard library (every folder on the way)."""
    paths = {os.path.realpath(python)}
    try:
        import sysconfig

        stdlib = (
            sysconfig.get_paths()["stdlib"]
            if os.path.realpath(python) == os.path.realpath(sys.executable)
            else None
        )
    except (KeyError, ImportError):
        stdlib = None
    if stdlib:
        paths.add(os.path.realpath(stdlib))
    for path in paths:
        p = Path(path)
        for part in [*reversed(p.parents), p]:
            try:
                mode = part.stat().st_mode
            except OSError:
                return False
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                return False
        try:
            if not p.stat().st_mode & stat.S_IROTH:
                return False
        except OSError:
            return False
    return True
