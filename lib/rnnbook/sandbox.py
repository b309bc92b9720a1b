"""A bubblewrap sandbox for the code of a submission, and a Jupyter kernel that runs in it.

Grading runs student code twice: nbgrader executes the submitted notebook in a kernel (for
the feedback), and :mod:`rnnbook.checker` calls the submitted functions in a worker (for
the points). Both run under Debian's ``bwrap`` (bubblewrap), built by :func:`command`:

- **no network**, and new user, PID, IPC, UTS and cgroup namespaces: the process sees only
  its own processes and cannot create further namespaces; all capabilities are dropped;
- **reads** only ``/usr``, the Python installation (``sys.prefix``, ``sys.base_prefix``),
  the installed ``rnnbook`` package and the files of its own submission (read-only);
- **writes** only three small tmpfs folders that vanish with it: its home and working
  folder ``/home/student``, ``/tmp`` and ``/dev/shm`` (each :attr:`Limits.scratch_mb`);
- **limits** of :class:`Limits` on each process: address space, file size, process count.

:class:`rnnbook.autograde.SandboxKernelManager` starts Jupyter kernels under that command.
The kernel talks ZeroMQ over Unix sockets (``transport = "ipc"``) that it creates in its own
``/tmp`` (:data:`KERNEL_IP`); the grader reaches them from outside through
``/proc/<pid>/root``, so nothing the kernel can write is on the host's disk.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import rnnbook
from rnnbook import repro

__all__ = [
    "HOME",
    "KERNEL_IP",
    "KERNEL_JSON",
    "Limits",
    "SandboxUnavailable",
    "command",
    "ensure_available",
    "read_info",
    "readable_paths",
    "visible",
]

HOME = "/home/student"  # the sandbox's home and working folder
KERNEL_JSON = "/run/rnnbook/kernel.json"  # where the kernel finds its connection file
KERNEL_IP = "/tmp/rnnbook-kernel"  # the kernel's sockets are KERNEL_IP-1 ... KERNEL_IP-5
_SYSTEM = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("/etc/ld.so.cache", "/etc/localtime")

# Run inside the sandbox, before the real command: set the limits, then exec it.
_LIMITS = """\
import os, resource, sys
memory, size, procs = (int(a) for a in sys.argv[1:4])
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
resource.setrlimit(resource.RLIMIT_NPROC, (procs, procs))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.execv(sys.argv[4], sys.argv[4:])
"""


class SandboxUnavailable(RuntimeError):
    """``bwrap`` is missing or cannot create namespaces here."""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed process may use.

    memory_mb : address space of each process (``RLIMIT_AS``), in MiB
    scratch_mb : size of each writable tmpfs (home, /tmp, /dev/shm), in MiB
    file_mb : largest file a process may write (``RLIMIT_FSIZE``), in MiB
    processes : processes of the sandbox's user (``RLIMIT_NPROC``; Linux does not apply it
        to a sandbox started by root)
    """

    memory_mb: int = 4096
    scratch_mb: int = 256
    file_mb: int = 64
    processes: int = 256

    def __post_init__(self) -> None:
        for name in ("memory_mb", "scratch_mb", "file_mb", "processes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")


def _outermost(paths: Sequence[Path]) -> list[Path]:
    kept: list[Path] = []
    for p in sorted(set(paths), key=lambda p: len(p.parts)):
        if not any(p == k or k in p.parents for k in kept):
            kept.append(p)
    return kept


@lru_cache(maxsize=1)
def readable_paths() -> tuple[Path, ...]:
    """The host folders the sandbox can read besides ``/usr``: Python and rnnbook.

    The Python installation and its environment (``sys.prefix`` and the prefixes it was built
    from), their site-packages folders, and the folder of the installed ``rnnbook`` package
    (an editable install keeps it in a checkout of the book, whose other files stay hidden).
    """
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += [p for p in site.getsitepackages() if p in sys.path]
    user_site = site.getusersitepackages()
    if isinstance(user_site, str) and user_site in sys.path:
        candidates.append(user_site)
    candidates.append(os.path.dirname(rnnbook.__file__))
    paths = [Path(os.path.realpath(p)) for p in candidates if os.path.isdir(p)]
    return tuple(p for p in _outermost(paths) if not _under(p, Path("/usr")))


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def visible(path: str | Path) -> bool:
    """Whether the host path ``path`` can be read from inside the sandbox."""
    path = Path(os.path.realpath(path))
    return any(_under(path, f) for f in (Path("/usr"), *readable_paths()))


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _SYSTEM:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for f in _ETC:
        args += ["--ro-bind-try", f, f]
    return args


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        "HOME": HOME,
        "USER": "student",
        "LOGNAME": "student",
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "agg",
        **repro.environment({}),  # one BLAS thread, as the book's own kernels
    }
    if "NBGRADER_EXECUTION" in os.environ:
        env["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
    env.update(extra)
    return env


def command(
    argv: Sequence[str],
    *,
    limits: Limits = Limits(),
    files: Mapping[str, str | Path] | None = None,
    ro_binds: Mapping[str | Path, str] | None = None,
    env: Mapping[str, str] | None = None,
    info_fd: int | None = None,
) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` in the sandbox.

    Parameters
    ----------
    argv : the command to run inside (``argv[0]`` an absolute path, e.g. ``sys.executable``)
    limits : the :class:`Limits` of every process inside
    files : name -> host path of a regular file or folder to show read-only in the working
        folder ``/home/student`` (a submission's files); symbolic links are refused
    ro_binds : host path -> absolute path inside, shown read-only (e.g. a connection file)
    env : extra environment variables (the host's environment is not passed on)
    info_fd : a file descriptor on which ``bwrap`` writes the sandbox's PID as JSON

    Returns
    -------
    list of str, to pass to :class:`subprocess.Popen` (with ``pass_fds=(info_fd,)``)
    """
    if not argv or not os.path.isabs(argv[0]):
        raise ValueError(f"argv must start with an absolute path, got {list(argv)[:1]}")
    size = str(limits.scratch_mb * 2**20)
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns"]
    args += ["--uid", "1000", "--gid", "1000", "--hostname", "sandbox"]
    args += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    args += _system_binds()
    args += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm"]
    args += ["--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", HOME]
    for p in readable_paths():  # after the tmpfs: Python or the book may live under /tmp
        args += ["--ro-bind", str(p), str(p)]
    for name, path in (files or {}).items():
        if "/" in name or name in ("", ".", "..") or name.startswith("."):
            raise ValueError(f"files: {name!r} is not a plain file name")
        if os.path.islink(path) or not os.path.exists(path):
            raise ValueError(f"files: {path} is not a regular file or folder")
        args += ["--ro-bind", str(path), f"{HOME}/{name}"]
    for host, inside in (ro_binds or {}).items():
        args += ["--ro-bind", str(host), inside]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", HOME]
    for name, value in _environment(env or {}).items():
        args += ["--setenv", name, value]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    limit_args = [limits.memory_mb * 2**20, limits.file_mb * 2**20, limits.processes]
    wrapper = [sys.executable, "-I", "-S", "-c", _LIMITS, *map(str, limit_args)]
    return [*args, "--", *wrapper, *argv]


@lru_cache(maxsize=1)
def _probe() -> str:
    if shutil.which("bwrap") is None:
        return "bwrap (bubblewrap) is not installed: apt-get install bubblewrap"
    try:
        out = subprocess.run(
            command([sys.executable, "-I", "-c", "import numpy, rnnbook; print('ok')"]),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap could not start: {e}"
    if out.returncode != 0 or out.stdout.strip() != "ok":
        return f"bwrap cannot run Python here: {out.stderr.strip()[-500:]}"
    return ""


def ensure_available() -> None:
    """Raise :class:`SandboxUnavailable` (with the reason) unless the sandbox works here."""
    reason = _probe()
    if reason:
        raise SandboxUnavailable(reason)


def read_info(fd: int, timeout: float) -> dict:
    """The JSON that ``bwrap --info-fd`` writes once the sandbox is set up."""
    data, deadline = b"", time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("the sandbox did not start")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"the sandbox did not start: {data!r}")
        data += chunk
        try:
            return json.loads(data)
        except json.JSONDecodeError:
            continue
