"""The jail half of the sandbox's child runner: mounts, privileges and limits (standard library only).

Its text is put before ``_child.py``'s when the child is started (``python -c``), so nothing here
may import evalkit. :func:`build_jail` (namespaces only) mounts a fresh tmpfs at the sample's work
folder, binds a read-only view of ``/usr``, ``/lib*`` and the interpreter's standard library into
it, adds ``/dev`` nodes, a new ``/proc``, a private ``/sandbox`` and ``/tmp``, and pivots into it.
:func:`drop_privileges` makes the job an unprivileged uid with no capabilities and no way to gain
any; :func:`set_limits` applies the rlimits.
"""

import os
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
CLONE_NEWUSER = 0x10000000
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217, "armv7l": 218}


class _Sys:
    def __init__(self):
        import ctypes

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, rc, what):
        if rc != 0:
            err = self.ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    def mount(self, source, target, fstype, flags, data=None):
        enc = lambda s: None if s is None else s.encode()  # noqa: E731
        rc = self.libc.mount(enc(source), enc(target), enc(fstype), self.ctypes.c_ulong(flags), enc(data))
        self._check(rc, f"mount {target}")

    def umount(self, target):
        self._check(self.libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")

    def pivot_root(self, new, old):
        nr = _PIVOT_ROOT.get(os.uname().machine)
        if nr is None:
            raise OSError(0, f"pivot_root: unknown syscall number on {os.uname().machine}")
        self._check(self.libc.syscall(nr, new.encode(), old.encode()), "pivot_root")

    def unshare(self, flags):
        self._check(self.libc.unshare(flags), "unshare")


def _kept_flags(path):
    """The mount flags of ``path`` that a read-only bind remount must keep (locked in a user namespace)."""
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC)):
        if f & st:
            out |= ms
    for st, ms in (
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if f & st:
            out |= ms
    return out


def _bind_ro(s, src, dst):
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()
    s.mount(src, dst, None, MS_BIND | MS_REC)
    s.mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _kept_flags(src))


def _python_dirs():
    """Where this interpreter's standard library lives, outside /usr (which is bound whole)."""
    dirs = {sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    dirs.update(p for p in sys.path if p and os.path.isdir(p))
    out: list = []
    for d in sorted({os.path.realpath(d) for d in dirs}):
        if d == "/" or any(d == u or d.startswith(u + "/") for u in ("/usr", "/bin", "/lib", "/lib64")):
            continue
        if not any(d.startswith(o + "/") for o in out):
            out.append(d)
    return out


def build_jail(root, uid, gid, disk_mb, owner):
    """Mount a fresh tmpfs at ``root`` holding a read-only view of the system, then pivot into it."""
    s = _Sys()
    s.mount(None, "/", None, MS_REC | MS_PRIVATE)
    s.mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            os.symlink(os.readlink(top), root + top)
        elif os.path.isdir(top):
            _bind_ro(s, top, root + top)
    for d in _python_dirs():
        _bind_ro(s, d, root + d)
    os.makedirs(root + "/etc")
    for name in ("ld.so.cache", "localtime"):
        src = "/etc/" + name
        if os.path.islink(src):
            os.symlink(os.readlink(src), root + src)
        elif os.path.isfile(src):
            _bind_ro(s, src, root + src)
    with open(root + "/etc/passwd", "w") as f:
        f.write(f"root:x:0:0::/:/bin/false\nsandbox:x:{uid}:{gid}::/sandbox:/bin/false\n")
    with open(root + "/etc/group", "w") as f:
        f.write(f"root:x:0:\nsandbox:x:{gid}:\n")
    with open(root + "/etc/hosts", "w") as f:
        f.write("127.0.0.1 localhost\n")
    os.makedirs(root + "/dev")
    for dev in ("null", "zero", "full", "random", "urandom"):
        _bind_dev(s, "/dev/" + dev, root + "/dev/" + dev)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, root + "/dev/" + name)
    os.symlink("/proc/self/fd/1", root + "/dev/stdout")
    os.symlink("/proc/self/fd/2", root + "/dev/stderr")
    os.makedirs(root + "/proc")
    proc = True
    try:
        s.mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:
        proc = False  # e.g. a container that masks parts of /proc: go on without one
    size = f"size={int(disk_mb)}m"
    os.makedirs(root + "/sandbox")
    s.mount("tmpfs", root + "/sandbox", "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=0700{owner}")
    os.makedirs(root + "/tmp")
    s.mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"{size},mode=1777")
    os.chdir(root)
    s.pivot_root(".", ".")
    s.umount(".")
    os.chdir("/")
    s.mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/sandbox")
    return {"proc": proc, "readonly_root": True}


def _bind_dev(s, src, dst):
    if not os.path.exists(src):
        return
    open(dst, "w").close()
    s.mount(src, dst, None, MS_BIND)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def drop_privileges(mode, uid, gid):
    """Become an unprivileged user with no capabilities anywhere (and no way back)."""
    if mode == "ns-user":
        # One nested user namespace: uid 1000 inside is our uid 0, so setresuid clears every capability.
        _Sys().unshare(CLONE_NEWUSER)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} 0 1")
        _write("/proc/self/gid_map", f"{gid} 0 1")
    elif os.getuid() == 0:
        os.setgroups([])
    linux = sys.platform.startswith("linux")
    if linux:
        _drop_bounding_set()  # while we still hold CAP_SETPCAP
    if mode == "ns-user" or os.getuid() == 0:
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if linux:
        _drop_capabilities()


def _drop_bounding_set():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly past the last capability)


def _drop_capabilities():
    """Empty the effective, permitted and inheritable sets; forbid gaining any by exec.

    Needed in a nested user namespace: there the uid is never 0, so setresuid does not clear the
    capabilities the namespace's creator gets.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")


def _count_own_processes():
    """How many processes our real uid runs (RLIMIT_NPROC counts them all); ``None`` if unknown."""
    uid = os.getuid()
    if os.path.isdir("/proc/self"):
        n = 0
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.stat("/proc/" + pid).st_uid == uid:
                        n += 1
                except OSError:
                    pass
        return n
    try:  # macOS and the BSDs: no /proc
        import subprocess

        out = subprocess.run(["ps", "-U", str(uid), "-o", "pid="], capture_output=True, text=True, timeout=10)
        return len(out.stdout.split()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def set_limits(limits, mode):
    import resource

    mb = 1024 * 1024
    cpu = max(1, int(limits["cpu_s"] + 0.999))
    pairs = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_FSIZE, limits["file_mb"] * mb, limits["file_mb"] * mb),
        (resource.RLIMIT_NOFILE, limits["open_files"], limits["open_files"]),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if hasattr(resource, "RLIMIT_AS"):
        pairs.append((resource.RLIMIT_AS, limits["memory_mb"] * mb, limits["memory_mb"] * mb))
    if hasattr(resource, "RLIMIT_NPROC"):
        nproc = limits["processes"]
        if mode == "process" and os.getuid() != 0:
            # Counted per real uid over the whole machine: allow this many more than the user runs now.
            own = _count_own_processes()
            nproc = nproc + own - 1 if own is not None else None
        if nproc is not None:
            pairs.append((resource.RLIMIT_NPROC, nproc, nproc))
    for what, soft, hard in pairs:
        try:
            resource.setrlimit(what, (soft, hard))
        except (ValueError, OSError):
            cur_hard = resource.getrlimit(what)[1]
            if cur_hard != resource.RLIM_INFINITY:
                resource.setrlimit(what, (min(soft, cur_hard), cur_hard))
