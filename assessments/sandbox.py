"""Run each autograde kernel inside bubblewrap: no network, a private filesystem view, resource limits.

nbgrader itself runs trusted, in the instructor's process, with the gradebook and `source/`. Only the kernel
that executes a student's notebook is confined. `SandboxKernelManager` is what nbgrader's Execute preprocessor
starts (see nbgrader_config.py); it wraps the ordinary ipykernel command in `bwrap` and talks to the kernel over
Jupyter's `ipc` transport (Unix sockets in a private folder bound into the sandbox), since the kernel's network
namespace has no route to the grader's loopback.

What the kernel sees (everything else on the host is absent, not just unreadable):
- read-only: /usr, /bin, /lib*, a few files of /etc, the Python install and the virtualenv;
- read-only: the course's `workbook/` and `data/` at /workbook/workbook and /workbook/data;
- read-write: its own submission folder at /workbook/<assignment> (the working directory), with every
  notebook file in it masked by an empty file (the sanitised notebook there holds the hidden tests);
- a private, empty, in-memory /tmp (also HOME), gone when the kernel exits; fresh /proc and /dev;
- nothing else is writable: the sandbox root is remounted read-only.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from workbook.core.config import ROOT as REPO

MOUNT_ROOT = "/workbook"
# Environment variables passed through to the kernel; everything else is cleared.
PASS_ENV = ("NBGRADER_EXECUTION", "WORKBOOK_FAST", "LANG", "LC_ALL", "TZ")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts")
LIMITS = {  # resource limits of the kernel process tree
    "RLIMIT_AS": 8 * 2**30,  # address space: 8 GiB (torch maps a lot of virtual memory, little of it resident)
    "RLIMIT_FSIZE": 256 * 2**20,  # no single file over 256 MiB
    "RLIMIT_CPU": 600,  # CPU seconds over the kernel's whole life
    "RLIMIT_CORE": 0,
}


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


def bwrap_path() -> str:
    """The bwrap executable, or a clear error saying how to install it."""
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so student code cannot be isolated. "
            "Install it with `apt-get update && apt-get install -y bubblewrap` (or `make assess-setup`)."
        )
    return path


def check_available() -> None:
    """Raise SandboxUnavailable unless bwrap can start a confined process on this machine."""
    cmd = [bwrap_path(), "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SandboxUnavailable(f"bwrap cannot create namespaces here: {result.stderr.strip()}")


def _python_roots() -> list[str]:
    """Folders the kernel's Python needs: the virtualenv and the interpreter it was made from."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), sys.prefix}
    return sorted(r for r in roots if not r.startswith(("/usr/", "/bin", "/lib")))


def bwrap_command(kernel_cmd: list[str], submission_dir: str, socket_dir: str, assignment: str,
                  student: str | None = None) -> list[str]:
    """Wrap an ipykernel command line so that it runs confined to `submission_dir`."""
    workdir = f"{MOUNT_ROOT}/{assignment}"
    args = [bwrap_path(), "--unshare-all", "--die-with-parent", "--clearenv"]
    args += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    for path in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.lexists(path):
            # /bin and /lib are symlinks into /usr on merged-/usr systems
            args += ["--symlink", os.readlink(path), path] if os.path.islink(path) else ["--ro-bind", path, path]
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    args += ["--tmpfs", MOUNT_ROOT]
    for name in ("workbook", "data"):
        if (REPO / name).is_dir():
            args += ["--ro-bind", str(REPO / name), f"{MOUNT_ROOT}/{name}"]
    args += ["--bind", submission_dir, workdir]
    masks = sorted(p for p in Path(submission_dir).rglob("*.ipynb") if p.is_file())
    for notebook in masks:  # hide the sanitised notebook (it holds the hidden tests); runs from memory anyway
        args += ["--ro-bind", "/dev/null", f"{workdir}/{notebook.relative_to(submission_dir).as_posix()}"]
    args += ["--remount-ro", MOUNT_ROOT, "--bind", socket_dir, socket_dir, "--remount-ro", "/", "--chdir", workdir]
    env = {"HOME": "/tmp", "PATH": f"{os.path.realpath(sys.prefix)}/bin:/usr/bin:/bin", "PYTHONPATH": MOUNT_ROOT,
           "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "agg", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
    if student:
        env["WORKBOOK_STUDENT_ID"] = student  # the lab's reproducibility gate compares it with the packet
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return args + ["--", *kernel_cmd]


def _prepare_child() -> None:
    """Runs in the child between fork and exec: resource limits, and bwrap ignores SIGINT.

    The grader interrupts a timed-out cell with SIGINT to the kernel's process group. bwrap would die of it
    (and take the kernel along); ignoring it in bwrap lets the signal reach the kernel, which installs its own
    SIGINT handler while it executes a cell and raises KeyboardInterrupt there.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name, value in LIMITS.items():
        resource.setrlimit(getattr(resource, name), (value, value))


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run under bubblewrap and connect over ipc sockets."""

    _socket_dir: str | None = None

    async def _async_pre_start_kernel(self, **kw):
        self._socket_dir = tempfile.mkdtemp(prefix="wb-kernel-")
        self.transport = "ipc"
        self.ip = os.path.join(self._socket_dir, "kernel")
        self.connection_file = os.path.join(self._socket_dir, "connection.json")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        submission_dir = os.path.realpath(kw.get("cwd") or os.getcwd())
        python = os.path.join(os.path.realpath(sys.prefix), "bin", "python")
        if os.path.basename(kernel_cmd[0]).startswith("python"):
            kernel_cmd = [python, *kernel_cmd[1:]]
        folder = Path(submission_dir)  # nbgrader's autograded/<student>/<assignment>
        cmd = bwrap_command(kernel_cmd, submission_dir, self._socket_dir, folder.name, folder.parent.name)
        kw["preexec_fn"] = _prepare_child
        self.log.info("Sandboxed kernel for %s", submission_dir)
        await super()._async_launch_kernel(cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._socket_dir and not restart:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
