"""The program that runs inside the sandbox: set the jail up, then run the units one by one.

This file is never imported by evalkit: its text is passed to ``python -c`` and it imports only
the standard library, so it runs unchanged under the host's Python, the namespaces' Python and a
container image's Python. It reads one JSON job on stdin and writes JSON lines, each carrying the
job's nonce, on the stdout it was given; the code under test gets fd 1 pointed at stderr, so what it
prints never mixes with the protocol.

Two processes: this one (the *init*; PID 1 in the namespaces and in a container) prepares the jail,
forks the *job*, waits for it (reaping every orphan) and reports how it ended; the job drops its
privileges, sets its rlimits and runs the units. In the namespaces, when the init exits the kernel
kills whatever the job left behind.

Events: ``ready`` (init, the jail is up, with its facts), ``unit`` (job, one per unit run),
``done`` (job, every unit ran), ``exit`` (init, the job's status and resources), ``setup_error``.
"""

import contextlib
import json
import os
import sys

_IN = sys.stdin.buffer.read()
_JOB = json.loads(_IN)
_NONCE = _JOB["nonce"]
_PROTO = os.dup(1)
os.set_inheritable(_PROTO, True)
os.dup2(2, 1)


def emit(event, **fields):
    fields["k"] = _NONCE
    fields["ev"] = event
    data = (json.dumps(fields, ensure_ascii=True, default=repr) + "\n").encode()
    with contextlib.suppress(OSError):
        os.write(_PROTO, data)


if "_JAIL_LOADED" not in globals():
    # Imported as a module (linters, tests). Inside the sandbox ``_jail.py``'s text comes first.
    from evalkit.sandbox._jail import build_jail, drop_privileges, set_limits


# --- the job: run each unit in one namespace of globals ---------------------------------------------


def _clip(text, n):
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _safe_str(exc):
    try:
        return _clip(str(exc), 400)
    except BaseException:  # a hostile __str__
        return "(unprintable)"


def _locate(tb, sources):
    """The innermost frame of the traceback that is in one of the units: (unit name, line, source line)."""
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in sources:
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None, None, None
    name, line = found
    lines = sources[name].splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return name, line, _clip(text, 300)


def run_units(units):
    import builtins

    sources = {u["name"]: u["source"] for u in units}
    g = {"__name__": "__solution__", "__builtins__": builtins}
    for i, unit in enumerate(units):
        name, kind = unit["name"], unit["kind"]
        emit("start", i=i)
        try:
            code = compile(unit["source"], name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError) as exc:
            line = getattr(exc, "lineno", None)
            text = getattr(exc, "text", None) or ""
            emit(
                "unit",
                i=i,
                ok=False,
                syntax=True,
                type=type(exc).__name__,
                msg=_clip(getattr(exc, "msg", "") or _safe_str(exc), 300),
                where=name,
                line=line,
                src=_clip(text.strip(), 300),
            )
            return
        try:
            exec(code, g)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the tests did not finish
            where, line, src = _locate(exc.__traceback__, sources)
            emit(
                "unit",
                i=i,
                ok=False,
                syntax=False,
                type=type(exc).__name__,
                msg=_safe_str(exc),
                where=where,
                line=line,
                src=src,
            )
            if kind != "test":
                return
            continue
        emit("unit", i=i, ok=True)
    emit("done")


def job_main(job):
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if job["mode"] in ("ns-root", "ns-user") or (job["mode"] == "process" and os.getuid() == 0):
        drop_privileges(job["mode"], job["uid"], job["gid"])
    set_limits(job["limits"], job["mode"])
    run_units(job["units"])


def _signal_name(sig):
    import signal

    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def _kill_leftovers(job, pid):
    """Kill the job's group (and, as root in process mode, everything of its uid): it may have children."""
    with contextlib.suppress(OSError):
        os.killpg(pid, 9)
    if job["mode"] == "process" and os.getuid() == 0:
        helper = os.fork()
        if helper == 0:
            try:
                os.setresgid(job["gid"], job["gid"], job["gid"])
                os.setresuid(job["uid"], job["uid"], job["uid"])
                os.kill(-1, 9)  # as the job's own uid: reaches exactly its processes
            finally:
                os._exit(0)
        os.waitpid(helper, 0)


def _prctl(option, value):
    try:
        import ctypes

        ctypes.CDLL(None).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _lower_priority(nice):
    """Nice the sandbox, and its scheduling autogroup: the parent started it in a new session, which
    has its own autogroup, and within an autogroup a plain nice value does not yield to other groups."""
    os.nice(nice)
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass  # no autogroups here: the plain nice value is what counts


def _set_dumpable(flag):
    _prctl(4, int(flag))  # PR_SET_DUMPABLE


def _reap_all(seconds):
    """Reap the killed leftovers (in process mode they were reparented to us), for a moment at most."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.005)


def wait_job(pid):
    """Reap orphans until the job ends; kill its group while its zombie still holds the pid."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return None, None
        except InterruptedError:
            continue
        if info is None:
            continue
        if info.si_pid == pid:
            with contextlib.suppress(OSError):
                os.killpg(pid, 9)
            _got, status, usage = os.wait4(pid, 0)
            return status, usage
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.si_pid, 0)


def main():
    job = _JOB
    mode = job["mode"]
    facts = {"mode": mode, "python": sys.version.split()[0]}
    try:
        if job.get("nice"):
            _lower_priority(int(job["nice"]))
        if mode in ("ns-root", "ns-user"):
            # In a user namespace only uid 0 is mapped: the job's tmpfs stays ns-root's (its own kuid).
            owner = f",uid={job['uid']},gid={job['gid']}" if mode == "ns-root" else ""
            facts.update(build_jail(job["root"], job["uid"], job["gid"], job["limits"]["disk_mb"], owner))
        elif mode == "process":
            os.chdir(job["workdir"])
            _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: the job's orphans come to us, to be killed and reaped
        _set_dumpable(False)  # the job (same kuid in a user namespace) must not ptrace the init
    except BaseException as exc:
        emit("setup_error", type=type(exc).__name__, msg=_safe_str(exc))
        os._exit(3)
    emit("ready", facts=facts)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setpgid(0, 0)
            _set_dumpable(True)
            job_main(job)
        except BaseException as exc:
            emit("job_error", type=type(exc).__name__, msg=_safe_str(exc))
            code = 4
        finally:
            for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
                with contextlib.suppress(BaseException):
                    stream.flush()  # type: ignore[union-attr]
            os._exit(code)
    emit("job", pid=pid)
    status, usage = wait_job(pid)
    if status is None:
        emit("exit", lost=True)
        os._exit(5)
    exit_fields = {"cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "maxrss_kb": usage.ru_maxrss}
    if os.WIFSIGNALED(status):
        exit_fields["signal"] = _signal_name(os.WTERMSIG(status))
    else:
        exit_fields["code"] = os.WEXITSTATUS(status)
    _kill_leftovers(job, pid)
    if mode == "process":
        _reap_all(1.0)
    emit("exit", **exit_fields)
    os._exit(0)


main()
