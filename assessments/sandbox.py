"""Run each autograde kernel inside bubblewrap: no network, a private filesystem view, resource limits.

nbgrader itself runs trusted, in the instructor's process, with the gradebook and `source/`. Only the kernel
that executes a student's notebook is confined. `SandboxKernelManager` is what nbgrader's Execute preprocessor
starts (see nbgrader_config.py); it wraps the ordinary ipykernel command in `bwrap` and talks to the kernel over
Jupyter's `ipc` transport (Unix sockets in a private folder bound into the sandbox), since the kernel's network
namespace has no route to the grader's loopback.

What the kernel sees (everything else on the host is absent, not just unreadable):
- read-only: /usr, /bin, /lib*, a few files of /etc, the Python install and the virtualenv;
- read-only: a neutral temporary copy of the course's `workbook/` and `data/` at /workbook/workbook and
  /workbook/data, and of its pin block at /workbook/requirements.txt (the library reads it, e.g. Lab 3's GGUF
  pins), so /proc/self/mountinfo names no repository path but the virtualenv's;
- its working directory /workbook/<assignment>: a private, size-capped, in-memory copy of the submission's
  regular files (no notebook: the sanitised one holds the hidden tests, and nbgrader runs it from memory),
  copied from a neutral staging folder; everything the kernel writes there is discarded with it, so trusted
  code never meets a link, a FIFO or an extra file the kernel left behind (the autograded folder is only
  ever written by nbgrader);
- a private, empty, in-memory /tmp (also HOME), size-capped, gone when the kernel exits; fresh /proc and /dev;
- the kernel-socket folder at /workbook/.sockets (a fresh temporary folder per kernel start, the sockets must
  be created there; nothing trusted reads it, it is deleted with the kernel) and a read-only copy of the
  connection file at /workbook/.connection.json (the grader's own lives in a folder the kernel cannot see);
- nothing else is writable: the sandbox root is remounted read-only.

bwrap's own arguments (host paths) are passed through a pipe (`--args`), so /proc/1/cmdline inside shows none.
Aggregate limits: where the grader may create cgroups (root, cgroup v1 or v2), each kernel gets its own with a
memory and a process cap; per-process rlimits always apply (see LIMITS, CGROUP_LIMITS).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from workbook.core.config import ROOT as REPO

MOUNT_ROOT = "/workbook"
LIBRARY_FILES = ("requirements.txt",)  # files of the course beside workbook/ that the library reads
STAGE_MOUNT = f"{MOUNT_ROOT}/.submission"  # read-only copy of the submission, copied into the working dir
SOCKET_MOUNT = f"{MOUNT_ROOT}/.sockets"  # the kernel's throwaway socket folder (the only writable host folder)
CONNECTION_MOUNT = f"{MOUNT_ROOT}/.connection.json"  # the kernel's connection file, read-only
# Environment variables passed through to the kernel; everything else is cleared.
PASS_ENV = ("NBGRADER_EXECUTION", "WORKBOOK_FAST", "LANG", "LC_ALL", "TZ")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts")
LIMITS = {  # resource limits of every process of the kernel
    "RLIMIT_AS": 8 * 2**30,  # address space: 8 GiB (torch maps a lot of virtual memory, little of it resident)
    "RLIMIT_FSIZE": 256 * 2**20,  # no single file over 256 MiB
    "RLIMIT_CPU": 600,  # CPU seconds over the kernel's whole life
    "RLIMIT_CORE": 0,
}
WORKDIR_BYTES = 512 * 2**20  # the working directory (a tmpfs): everything the kernel writes there
TMP_BYTES = 256 * 2**20  # /tmp and HOME (a tmpfs)
STAGE_BYTES = 200 * 2**20  # the submission copied into the sandbox (uploads are capped at 100 MiB)
CGROUP_LIMITS = {"memory": 6 * 2**30, "pids": 256}  # all processes (and threads) of one kernel together
# The instructor (or a test) may lower them: WORKBOOK_KERNEL_DISK_MB, WORKBOOK_KERNEL_MEMORY_MB, WORKBOOK_KERNEL_PIDS.


def _env_limit(name: str, default: int, unit: int = 1) -> int:
    value = os.environ.get(name, "")
    return int(value) * unit if value.isdigit() and int(value) > 0 else default


def kernel_limits() -> dict[str, int]:
    """The aggregate limits of one kernel: disk (working directory), memory and processes."""
    return {"disk": _env_limit("WORKBOOK_KERNEL_DISK_MB", WORKDIR_BYTES, 2**20),
            "memory": _env_limit("WORKBOOK_KERNEL_MEMORY_MB", CGROUP_LIMITS["memory"], 2**20),
            "pids": _env_limit("WORKBOOK_KERNEL_PIDS", CGROUP_LIMITS["pids"])}

MESSAGE_BYTES = 4 * 2**20  # the largest frame of one kernel message the grader accepts (WORKBOOK_MESSAGE_MB)
QUEUE_MESSAGES = 64  # messages ZeroMQ may queue for the grader per channel: at most 64 x 4 MiB held


def message_limits() -> dict[str, int]:
    """What one kernel message may weigh in the grader, and how many may wait: bounds before parsing."""
    return {"bytes": _env_limit("WORKBOOK_MESSAGE_MB", MESSAGE_BYTES, 2**20), "queue": QUEUE_MESSAGES}


CGROUP_ROOT = Path("/sys/fs/cgroup")
# The working directory is a fresh tmpfs: copy the staged submission in, then become the kernel.
BOOT = ("import os,shutil,sys;shutil.copytree(sys.argv[1],'.',dirs_exist_ok=True,symlinks=True);"
        "os.execv(sys.argv[2],sys.argv[2:])")


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


def stage_submission(submission_dir: str | Path, limit: int = STAGE_BYTES, keep_notebooks: bool = False) -> str:
    """A neutral temporary copy of the submission's regular files, notebooks left out (lstat, never followed).

    Links, FIFOs, devices and sockets are skipped, as is anything past `limit` bytes in all; the kernel gets this
    copy, never the autograded folder itself.
    """
    stage = tempfile.mkdtemp(prefix="wb-in-")
    os.chmod(stage, 0o755)
    total = 0
    for top, dirs, files in os.walk(submission_dir):  # os.walk does not descend into linked folders
        rel = os.path.relpath(top, submission_dir)
        dirs[:] = [d for d in dirs if stat.S_ISDIR(os.lstat(os.path.join(top, d)).st_mode)]
        for name in sorted(files):
            source = os.path.join(top, name)
            info = os.lstat(source)
            if ((name.endswith(".ipynb") and not keep_notebooks) or not stat.S_ISREG(info.st_mode)
                    or total + info.st_size > limit):
                continue
            target = os.path.normpath(os.path.join(stage, rel, name))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
            total += info.st_size
    return stage


def stage_library(limit: int = STAGE_BYTES) -> str:
    """A neutral temporary copy of the course's `workbook/` and `data/` (plain files only), so the sandbox's
    /proc/self/mountinfo, which names each bind mount's source, shows a temporary folder, not the repository."""
    library = tempfile.mkdtemp(prefix="wb-lib-")
    os.chmod(library, 0o755)
    for name in ("workbook", "data"):
        if (REPO / name).is_dir():
            copied = stage_submission(REPO / name, limit, keep_notebooks=True)
            os.rename(copied, os.path.join(library, name))
    for name in LIBRARY_FILES:
        if (REPO / name).is_file() and not (REPO / name).is_symlink():
            shutil.copyfile(REPO / name, os.path.join(library, name))
    return library


def bwrap_args(submission_dir: str, socket_dir: str, assignment: str, student: str | None = None,
               library: str | None = None, connection: str | None = None) -> list[str]:
    """bwrap's options (without the executable and the command) confining a kernel to a copy of its submission.

    `submission_dir` is the staged copy (see stage_submission), mounted read-only and copied into the working
    directory by BOOT. `library`: a staged copy of the course library (stage_library; default the repository's
    own folders). `socket_dir` is mounted at SOCKET_MOUNT when `connection` (the kernel's connection file, which
    names that mount) is given; the connection file is mounted read-only at CONNECTION_MOUNT.
    """
    workdir = f"{MOUNT_ROOT}/{assignment}"
    args = ["--unshare-all", "--die-with-parent", "--clearenv"]
    args += ["--unshare-user", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    for path in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin"):
        if os.path.lexists(path):
            # /bin and /lib are symlinks into /usr on merged-/usr systems
            args += ["--symlink", os.readlink(path), path] if os.path.islink(path) else ["--ro-bind", path, path]
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
    for root in _python_roots():
        args += ["--ro-bind", root, root]
    args += ["--tmpfs", MOUNT_ROOT]
    for name in ("workbook", "data", *LIBRARY_FILES):
        source = Path(library) / name if library else REPO / name
        if source.exists():
            args += ["--ro-bind", str(source), f"{MOUNT_ROOT}/{name}"]
    args += ["--ro-bind", submission_dir, STAGE_MOUNT, "--size", str(kernel_limits()["disk"]), "--tmpfs", workdir]
    if connection:
        args += ["--bind", socket_dir, SOCKET_MOUNT, "--ro-bind", connection, CONNECTION_MOUNT]
        args += ["--remount-ro", MOUNT_ROOT]
    else:
        args += ["--remount-ro", MOUNT_ROOT, "--bind", socket_dir, socket_dir]
    args += ["--remount-ro", "/", "--chdir", workdir]
    env = {"HOME": "/tmp", "PATH": f"{os.path.realpath(sys.prefix)}/bin:/usr/bin:/bin", "PYTHONPATH": MOUNT_ROOT,
           "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "agg", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
    if student:
        env["WORKBOOK_STUDENT_ID"] = student  # the lab's reproducibility gate compares it with the packet
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return args


def bwrap_command(kernel_cmd: list[str], submission_dir: str, socket_dir: str, assignment: str,
                  student: str | None = None, args_fd: int | None = None) -> list[str]:
    """The full command line. With `args_fd`, bwrap's options are read from that descriptor (written by the
    caller), so no host path appears in the sandbox's /proc/1/cmdline."""
    options = bwrap_args(submission_dir, socket_dir, assignment, student)
    boot = [kernel_cmd[0], "-I", "-S", "-c", BOOT, STAGE_MOUNT, *kernel_cmd]
    head = ["--args", str(args_fd)] if args_fd is not None else options
    return [bwrap_path(), *head, "--", *boot]


class Cgroup:
    """One kernel's cgroup with a memory and a process cap (v2 or v1), or nothing where cgroups are unavailable."""

    def __init__(self, limits: dict[str, int] | None = None, root: Path = CGROUP_ROOT):
        limits = limits or kernel_limits()
        self.name = f"workbook-kernel-{uuid.uuid4().hex[:12]}"
        self.dirs: list[Path] = []
        self.problem: str | None = None
        try:
            if (root / "cgroup.controllers").is_file():  # v2: one hierarchy
                folder = root / self.name
                folder.mkdir()
                self.dirs.append(folder)
                (folder / "memory.max").write_text(str(limits["memory"]))
                (folder / "memory.swap.max").write_text("0") if (folder / "memory.swap.max").exists() else None
                (folder / "pids.max").write_text(str(limits["pids"]))
            else:  # v1: a hierarchy per controller
                for controller, knob in (("memory", "memory.limit_in_bytes"), ("pids", "pids.max")):
                    folder = root / controller / self.name
                    folder.mkdir()
                    self.dirs.append(folder)
                    (folder / knob).write_text(str(limits[controller]))
        except OSError as error:
            self.problem = f"no cgroup limits ({error.strerror or error})"
            self.remove()

    @property
    def active(self) -> bool:
        return bool(self.dirs) and self.problem is None

    def join(self) -> None:
        """Move the calling process into the cgroup (runs in the child between fork and exec)."""
        for folder in self.dirs:
            with open(folder / "cgroup.procs", "w") as fh:
                fh.write(str(os.getpid()))

    def pids(self) -> set[int]:
        found = set()
        for folder in self.dirs:
            try:
                found |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
            except (OSError, ValueError):
                pass
        return found

    def memory_peak(self) -> int | None:
        for folder in self.dirs:
            for knob in ("memory.peak", "memory.max_usage_in_bytes"):
                try:
                    return int((folder / knob).read_text())
                except (OSError, ValueError):
                    continue
        return None

    def remove(self) -> None:
        """Kill whatever is left in it, then delete it."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for folder in self.dirs:
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)
        self.dirs = []


def _prepare_child(cgroup: Cgroup | None = None) -> None:
    """Runs in the child between fork and exec: cgroup, resource limits, and bwrap ignores SIGINT.

    The grader interrupts a timed-out cell with SIGINT to the kernel's process group. bwrap would die of it
    (and take the kernel along); ignoring it in bwrap lets the signal reach the kernel, which installs its own
    SIGINT handler while it executes a cell and raises KeyboardInterrupt there.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if cgroup is not None and cgroup.active:
        cgroup.join()
    for name, value in LIMITS.items():
        resource.setrlimit(getattr(resource, name), (value, value))


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run under bubblewrap and connect over ipc sockets."""

    _socket_dir: str | None = None
    _private_dir: str | None = None
    _stage_dir: str | None = None
    _library_dir: str | None = None
    _cgroup: Cgroup | None = None

    def client(self, **kwargs):
        """A client whose sockets refuse any message frame over MESSAGE_BYTES and queue at most QUEUE_MESSAGES
        messages: an enormous output message is dropped by ZeroMQ as it arrives (the connection is reset and
        re-made), so it is never held in the grader's memory (the output budget then applies per message)."""
        import zmq
        import zmq.asyncio

        context = zmq.asyncio.Context()
        limits = message_limits()
        context.setsockopt(zmq.MAXMSGSIZE, limits["bytes"])
        context.setsockopt(zmq.RCVHWM, limits["queue"])
        kc = super().client(context=context, **kwargs)
        kc._created_context = True  # the client terminates it when it stops
        return kc

    async def _async_pre_start_kernel(self, **kw):
        """Per kernel start: a fresh socket folder (the kernel may write there; nothing trusted reads it, and it is
        deleted with the kernel, never followed) and a grader-private folder with the connection files."""
        self._remove_folders(("_socket_dir", "_private_dir"))  # a restart leaves no folder behind
        self._socket_dir = tempfile.mkdtemp(prefix="wb-kernel-")
        self._private_dir = tempfile.mkdtemp(prefix="wb-conn-")
        self.transport = "ipc"
        self.ip = os.path.join(self._socket_dir, "kernel")
        self.connection_file = os.path.join(self._private_dir, "connection.json")
        return await super()._async_pre_start_kernel(**kw)

    def _kernel_connection(self) -> str:
        """The kernel's own connection file: the grader's, with the socket folder named as mounted inside."""
        with open(self.connection_file, encoding="utf-8") as fh:
            info = json.load(fh)
        info["ip"] = f"{SOCKET_MOUNT}/kernel"
        path = os.path.join(self._private_dir, "kernel.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        os.chmod(path, 0o644)
        os.chmod(self._private_dir, 0o755)
        return path

    def _remove_folders(self, attrs) -> None:
        for attr in attrs:
            if getattr(self, attr, None):
                shutil.rmtree(getattr(self, attr), ignore_errors=True)  # never follows a link
                setattr(self, attr, None)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        submission_dir = os.path.realpath(kw.get("cwd") or os.getcwd())
        python = os.path.join(os.path.realpath(sys.prefix), "bin", "python")
        if os.path.basename(kernel_cmd[0]).startswith("python"):
            kernel_cmd = [python, *kernel_cmd[1:]]
        folder = Path(submission_dir)  # nbgrader's autograded/<student>/<assignment>
        self._stage_dir = stage_submission(submission_dir)
        self._library_dir = stage_library()
        connection = self._kernel_connection()
        kernel_cmd = [CONNECTION_MOUNT if arg == self.connection_file else arg for arg in kernel_cmd]
        options = bwrap_args(self._stage_dir, self._socket_dir, folder.name, folder.parent.name,
                             library=self._library_dir, connection=connection)
        read_fd, write_fd = os.pipe()
        payload = b"".join(arg.encode() + b"\0" for arg in options)
        os.write(write_fd, payload)  # a few KiB: well under a pipe's buffer
        os.close(write_fd)
        cmd = bwrap_command(kernel_cmd, self._stage_dir, self._socket_dir, folder.name, folder.parent.name,
                            args_fd=read_fd)
        self._cgroup = Cgroup()
        if not self._cgroup.active:
            self.log.warning("Kernel for %s: %s; per-process rlimits only", submission_dir, self._cgroup.problem)
        cgroup = self._cgroup
        kw["preexec_fn"] = lambda: _prepare_child(cgroup)
        kw["pass_fds"] = (*kw.get("pass_fds", ()), read_fd)
        kw["cwd"] = self._stage_dir  # bwrap itself never runs in the autograded folder
        self.log.info("Sandboxed kernel for %s", submission_dir)
        try:
            await super()._async_launch_kernel(cmd, **kw)
        finally:
            os.close(read_fd)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        self._remove_folders(("_stage_dir", "_library_dir") if restart else
                             ("_socket_dir", "_private_dir", "_stage_dir", "_library_dir"))
