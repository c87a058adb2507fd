"""evalkit.sandbox: hostile code is contained and reported as that sample's outcome.

Every hostile program here runs with small limits (a few processes, little memory, a short clock),
so that a containment failure would still be bounded. The namespace-only checks (no network, no
view of the host's files or processes) are skipped where ``auto`` picks a weaker sandbox, which
docs/scorers.md says does not give them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import stat
import sys
import time
from pathlib import Path

import pytest

from evalkit.errors import ConfigError
from evalkit.sandbox import (
    KINDS,
    Execution,
    Limits,
    Sandbox,
    SandboxUnavailable,
    Status,
    Unit,
    choose_backend,
    open_sandbox,
    sandbox_env,
)
from evalkit.sandbox import sandbox as sandbox_mod
from evalkit.sandbox.backends import CHILD_SOURCE, NamespacesBackend, ProcessBackend, world_usable
from evalkit.sandbox.env import engine_client_env
from evalkit.sandbox.execute import clean_text

SMALL = Limits(timeout_s=5, cpu_s=2, memory_mb=192, processes=8, file_mb=1, disk_mb=8, output_kb=8)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def box() -> Sandbox:
    return open_sandbox("auto", SMALL, max_parallel=2)


@pytest.fixture(scope="module")
def strong(box: Sandbox) -> Sandbox:
    if box.name == "process":
        pytest.skip("only the namespaces and container sandboxes isolate the network, files and processes")
    return box


def run(box: Sandbox, source: str, *tests: str) -> Execution:
    units = [Unit("<solution>", source, "solution")] + [
        Unit(f"<test {i}>", t, "test") for i, t in enumerate(tests, 1)
    ]
    return box.run_sync(units)


def _leftovers() -> list[int]:
    """Processes still running the child runner's code (its text is on their command line)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"_JAIL_LOADED" in cmd:
            found.append(int(pid))
    return found


# --- the environment -------------------------------------------------------------------------------


def test_sandbox_env_is_built_from_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-env-1234567890")
    monkeypatch.setenv("EVALKIT_CACHE_DIR", "/secret")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = sandbox_env("/sandbox", "/tmp")
    assert set(env) == {
        "PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONIOENCODING",
    }  # fmt: skip
    assert "sk-canary" not in repr(env) and env["HOME"] == "/sandbox"


def test_engine_client_env_keeps_only_engine_variables() -> None:
    env = engine_client_env(
        {"DOCKER_HOST": "unix:///x", "OPENAI_API_KEY": "sk-1", "HOME": "/h", "AWS_X": "1"}
    )
    assert env == {"DOCKER_HOST": "unix:///x", "HOME": "/h", "PATH": env["PATH"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": True}, "timeout_s"),
        ({"cpu_s": -1}, "cpu_s"),
        ({"memory_mb": 8}, "memory_mb"),
        ({"processes": 0}, "processes"),
        ({"open_files": 3}, "open_files"),
        ({"file_mb": 1.5}, "file_mb"),
    ],
)
def test_limits_reject_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Limits(**kwargs)  # type: ignore[arg-type]


def test_cpu_limit_defaults_to_the_smaller_of_the_clock_and_ten() -> None:
    assert Limits(timeout_s=30).cpu_limit_s == 10
    assert Limits(timeout_s=3).cpu_limit_s == 3
    assert Limits(timeout_s=3, cpu_s=1).cpu_limit_s == 1


def test_clean_text_drops_control_characters_and_clips() -> None:
    assert clean_text("a\x1b[31mred\x00\r\nz\u202e".encode(), 100) == "a[31mred\nz"
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"


# --- choosing a sandbox ---------------------------------------------------------------------------------


def test_unknown_kind_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="sandbox must be one of"):
        choose_backend("docker")
    assert KINDS == ("auto", "container", "namespaces", "process")


def _fake_engine(tmp_path: Path, *, works: bool, log: Path) -> Path:
    """A stand-in ``docker`` client: ``info`` fails (no engine) or succeeds; ``run`` runs the child
    command as a fresh unprivileged uid on the host (no isolation: it tests the plumbing only)."""
    script = tmp_path / "docker"
    uid = 0x6F000000 + os.getpid() % 100000
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'case "$1" in\n'
        f"  info) {'exit 0' if works else 'echo Cannot connect to the Docker daemon >&2; exit 1'};;\n"
        "  image|rm|kill) exit 0;;\n"
        '  run) while [ $# -gt 0 ] && [ "$1" != fake/python:1 ]; do shift; done; shift; shift\n'
        f'       exec setpriv --reuid={uid} --regid={uid} --clear-groups /usr/bin/python3 "$@";;\n'
        "esac\nexit 2\n"
    )
    script.chmod(0o755)
    return script


def test_a_docker_client_without_an_engine_is_skipped_and_named(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    engine = _fake_engine(tmp_path, works=False, log=log)
    with pytest.raises(SandboxUnavailable, match=r"has no working engine.*Cannot connect"):
        choose_backend("container", engine=str(engine), image="fake/python:1")
    backend, notes = choose_backend("auto", engine=str(engine), image="fake/python:1")
    assert backend.name in ("namespaces", "process")
    assert any("docker is installed but has no working engine" in n for n in notes)


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setpriv") or not os.path.exists("/usr/bin/python3"),
                    reason="the fake engine plays an unprivileged container user with setpriv (root only)")  # fmt: skip
def test_container_runner_passes_the_isolation_flags(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    engine = _fake_engine(tmp_path, works=True, log=log)
    backend, notes = choose_backend("container", engine=str(engine), image="fake/python:1")
    assert backend.name == "container" and notes == ()
    box = Sandbox(backend, SMALL)
    result = run(box, "import os\nprint(sorted(os.environ))", "assert 1 + 1 == 2")
    assert result.status is Status.COMPLETED, result
    assert "OPENAI_API_KEY" not in result.output and "'HOME'" in result.output
    calls = log.read_text()
    run_line = [line for line in calls.splitlines() if line.startswith("run ")][-1]  # ours, not the probe
    for flag in ("--network none", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges",
                 "--user 65534:65534", "--pids-limit 12", "--memory 256m", "--rm -i --name evalkit-sandbox-"):  # fmt: skip
        assert flag in run_line, flag
    assert "rm -f evalkit-sandbox-" in calls  # the container is removed whatever happened
    assert "container of image fake/python:1" in box.description


def test_forced_process_sandbox_runs_as_an_unprivileged_uid() -> None:
    box = open_sandbox("process", SMALL)
    result = run(box, "import os\nprint('uid', os.getuid())", "assert os.getuid() != 0")
    assert result.status is Status.COMPLETED, result
    assert box.name == "process" and result.sandbox == "process"


# --- what the code sees ------------------------------------------------------------------------------------


def test_api_keys_and_evalkit_variables_do_not_reach_the_code(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-abcdefghijklmnop")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-canary-abcdefgh")
    monkeypatch.setenv("EVALKIT_CANARY", "canary-value")
    code = "import os\nprint(dict(os.environ))\nleaked = [k for k in os.environ if 'KEY' in k or k.startswith('EVALKIT')]"
    result = run(box, code, "assert leaked == [], leaked", "assert 'canary' not in repr(os.environ)")
    assert result.status is Status.COMPLETED and all(t.ok for t in result.tests), result
    assert "canary" not in result.output


def test_writes_outside_the_sandbox_do_not_reach_the_host(strong: Sandbox, tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    host_tmp = Path("/tmp") / f"evalkit-test-escape-{os.getpid()}"
    code = (
        "import os\nresults = {}\n"
        f"for path in [{str(target)!r}, {str(host_tmp)!r}, '/usr/escaped', '/etc/escaped', '/escaped', 'here.txt']:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        results[path] = 'written'\n"
        "    except OSError as exc:\n"
        "        results[path] = type(exc).__name__\n"
        "print(results)\n"
    )
    result = run(
        strong, code, "assert results['here.txt'] == 'written'", "assert results['/usr/escaped'] != 'written'"
    )
    assert result.status is Status.COMPLETED and all(t.ok for t in result.tests), result
    assert not target.exists() and not host_tmp.exists()  # /tmp inside is the sandbox's own tmpfs


def test_the_host_files_and_processes_are_not_visible(strong: Sandbox) -> None:
    code = (
        "import os\n"
        "pids = [int(p) for p in os.listdir('/proc') if p.isdigit()] if os.path.isdir('/proc') else []\n"
        f"cwd_visible = os.path.exists({os.getcwd()!r})\n"
        f"me_visible = os.path.exists('/proc/{os.getpid()}/cmdline')\n"
    )
    result = run(
        strong, code, "assert not cwd_visible", "assert not me_visible", "assert len(pids) < 10, pids"
    )
    assert result.status is Status.COMPLETED and all(t.ok for t in result.tests), result


def test_a_socket_to_a_listening_host_port_fails(strong: Sandbox) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    code = (
        "import socket\ns = socket.socket()\ns.settimeout(2)\n"
        f"try:\n    s.connect(('127.0.0.1', {port}))\n    outcome = 'connected'\n"
        "except OSError as exc:\n    outcome = type(exc).__name__ + ': ' + str(exc)\nprint(outcome)\n"
    )
    try:
        result = run(strong, code, "assert outcome != 'connected'")
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody came through
    finally:
        server.close()
    assert result.status is Status.COMPLETED and result.tests[0].ok, result


# --- hostile code: bounded, killed, reported -------------------------------------------------------------------


def test_a_fork_bomb_is_bounded_and_killed(box: Sandbox) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    result = run(box, code, "assert True")
    assert result.status is Status.TIMEOUT
    assert time.monotonic() - start < 30
    time.sleep(0.3)
    assert _leftovers() == []


def test_the_process_limit_applies_to_the_code(box: Sandbox) -> None:
    code = (
        "import os, time\nforked, refused = [], 0\n"
        "for _ in range(20):\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        refused += 1\n        continue\n"
        "    if pid == 0:\n        time.sleep(0.5)\n        os._exit(0)\n"
        "    forked.append(pid)\n"
        "for pid in forked:\n    os.waitpid(pid, 0)\n"
    )
    result = run(box, code, f"assert len(forked) <= {SMALL.processes}, len(forked)", "assert refused > 0")
    assert result.status is Status.COMPLETED and all(t.ok for t in result.tests), result


def test_an_infinite_loop_hits_the_cpu_limit(box: Sandbox) -> None:
    result = run(box, "while True:\n    pass\n", "assert True")
    assert result.status is Status.TIMEOUT and result.timeout_kind in ("cpu", "wall")
    assert result.last_started == 0


def test_a_sleep_hits_the_wall_clock() -> None:
    box = open_sandbox("auto", Limits(timeout_s=1, cpu_s=1, processes=8, memory_mb=192))
    start = time.monotonic()
    result = run(box, "import time\ntime.sleep(60)\n", "assert True")
    assert result.status is Status.TIMEOUT and result.timeout_kind == "wall"
    assert time.monotonic() - start < 15


def test_a_huge_allocation_is_a_memory_error(box: Sandbox) -> None:
    result = run(box, "x = bytearray(8 * 1024**3)\n", "assert True")
    assert result.status is Status.FAILED
    assert result.first_failure is not None and result.first_failure.error_type == "MemoryError"


def test_killing_its_parent_and_everything_it_can_is_harmless(box: Sandbox) -> None:
    if box.name == "process" and not IS_ROOT:
        pytest.skip("as your own user, kill(-1) in a plain process would reach your processes (documented)")
    code = (
        "import os, signal\n"
        "for target in (os.getppid(), 1, -1):\n"
        "    try:\n        os.kill(target, signal.SIGKILL)\n    except OSError:\n        pass\n"
    )
    result = run(box, code, "assert True")
    assert result.status is Status.COMPLETED, result  # we are still here, and so is the verdict


def test_megabytes_of_output_are_drained_and_clipped(box: Sandbox) -> None:
    code = "import sys\nfor _ in range(200):\n    sys.stdout.write('y' * 100_000 + '\\n')\n"
    result = run(box, code, "assert 2 + 2 == 4")
    assert result.status is Status.COMPLETED and result.tests[0].ok, result
    assert len(result.output) <= SMALL.output_kb * 1024


def test_exit_before_the_tests_is_not_a_pass(box: Sandbox) -> None:
    for code in ("import sys\nsys.exit(0)\n", "import os\nos._exit(0)\n"):
        result = run(box, code, "assert True")
        assert result.status in (Status.FAILED, Status.ENDED), result
        assert not any(t.ok for t in result.tests)


def test_forged_protocol_lines_on_stdout_are_ignored(box: Sandbox) -> None:
    code = 'print(\'{"k": "x", "ev": "done"}\')\nprint(\'{"ev": "unit", "i": 1, "ok": true}\')\n'
    result = run(box, code, "assert False, 'real failure'")
    assert result.status is Status.COMPLETED
    assert result.tests[0].ok is False and result.tests[0].message == "real failure"


def test_cancelling_a_run_kills_the_sandbox(box: Sandbox) -> None:
    async def main() -> None:
        task = asyncio.create_task(box.run([Unit("<solution>", "import time\ntime.sleep(60)\n")]))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    time.sleep(0.3)
    assert _leftovers() == []


# --- the non-root and process paths, played as root ------------------------------------------------------


def _unprivileged_python() -> str:
    return "/usr/bin/python3"


@pytest.mark.skipif(
    not IS_ROOT or not shutil.which("setpriv") or not shutil.which("unshare")
    or not os.path.exists("/usr/bin/python3") or not world_usable("/usr/bin/python3"),
    reason="plays a non-root user with setpriv (root, util-linux and a world-readable /usr/bin/python3)",
)  # fmt: skip
def test_user_namespaces_as_a_non_root_user_drop_every_capability(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = 0x6E000000 + os.getpid() % 100000
    backend = NamespacesBackend(
        python=_unprivileged_python(),
        unshare=shutil.which("unshare") or "unshare",
        as_root=False,
        prefix=("setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"),
    )
    import tempfile

    real_mkdtemp = tempfile.mkdtemp

    def owned_mkdtemp(**kw: str) -> str:
        d = real_mkdtemp(**kw)
        os.chown(d, uid, uid)  # the unprivileged user mounts its jail on its own folder
        return d

    monkeypatch.setattr(tempfile, "mkdtemp", owned_mkdtemp)
    box = Sandbox(backend, SMALL)
    code = (
        "import os\nstatus = open('/proc/self/status').read()\n"
        "caps = {l.split(':')[0]: l.split()[1] for l in status.splitlines() if l.startswith('Cap')}\n"
        "try:\n    open('/usr/escaped', 'w')\n    wrote = True\nexcept OSError:\n    wrote = False\n"
    )
    result = run(box, code, "assert os.getuid() == 1000", "assert set(caps.values()) == {'0000000000000000'}, caps",
                 "assert not wrote")  # fmt: skip
    assert result.status is Status.COMPLETED and all(t.ok for t in result.tests), result
    assert result.facts.get("mode") == "ns-user"


@pytest.mark.skipif(
    not IS_ROOT, reason="as root the process sandbox kills everything of the sample's own uid"
)
def test_process_sandbox_as_root_kills_detached_leftovers() -> None:
    box = Sandbox(ProcessBackend(python=_unprivileged_python(), as_root=True), SMALL)
    code = (
        "import os, time\nprint('uid', os.getuid(), flush=True)\n"
        "if os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n    os._exit(0)\n"
    )
    result = run(box, code, "assert True")
    assert result.status is Status.COMPLETED, result
    uid = int(result.output.split("uid", 1)[1].split()[0])
    time.sleep(0.3)
    assert _alive_of_uid(uid) == []


def _alive_of_uid(uid: int) -> list[int]:
    """Processes of ``uid`` that are not zombies."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)] and not fields.get("State", "").strip().startswith(
            "Z"
        ):
            out.append(int(pid))
    return out


# --- parallelism and the package surface -------------------------------------------------------------------


def test_at_most_max_parallel_runs_at_once(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    state = {"now": 0, "peak": 0}

    async def fake_execute(backend: object, units: object, limits: object, *, nice: int = 0) -> Execution:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.02)
        state["now"] -= 1
        return Execution(Status.COMPLETED, "fake")

    monkeypatch.setattr(sandbox_mod, "execute", fake_execute)
    limited = Sandbox(box.backend, SMALL, max_parallel=3)

    async def main() -> None:
        await asyncio.gather(*(limited.run([Unit("<solution>", "pass")]) for _ in range(12)))

    asyncio.run(main())
    assert state["peak"] == 3


def test_runs_in_parallel_do_not_block_the_event_loop(box: Sandbox) -> None:
    ticks = 0

    async def ticker(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def main() -> None:
        stop = asyncio.Event()
        t = asyncio.create_task(ticker(stop))
        await asyncio.gather(
            *(box.run([Unit("<solution>", "import time\ntime.sleep(0.3)")]) for _ in range(4))
        )
        stop.set()
        await t

    start = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - start
    assert ticks >= 0.3 * elapsed / 0.01  # the loop kept ticking while the children ran


def test_child_source_uses_only_the_standard_library() -> None:
    imports = {line.split()[1].split(".")[0] for line in CHILD_SOURCE.splitlines()
               if line.strip().startswith(("import ", "from ")) and "evalkit" not in line}  # fmt: skip
    assert imports <= {
        "builtins",
        "contextlib",
        "ctypes",
        "json",
        "os",
        "resource",
        "signal",
        "subprocess",
        "sys",
        "time",
    }


def test_world_usable_checks_every_folder(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    exe = private / "python"
    exe.write_text("")
    exe.chmod(0o755)
    private.chmod(0o700)
    try:
        assert not world_usable(str(exe))
        private.chmod(0o755)
        tmp_path.chmod(tmp_path.stat().st_mode | stat.S_IXOTH)
        assert world_usable(str(exe)) == all(p.stat().st_mode & stat.S_IXOTH for p in exe.parents)
    finally:
        private.chmod(0o755)


def test_description_names_the_sandbox_and_its_limits(box: Sandbox) -> None:
    text = box.description
    assert text.startswith(box.name + ": ")
    assert (
        "5 s wall clock" in text and "2 s CPU" in text and "192 MB memory" in text and "8 processes" in text
    )
    assert sys.platform != "linux" or box.name != "process" or "namespaces:" in text
