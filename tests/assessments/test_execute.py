"""Per-submission limits of the grader's Execute (assessments/execute.py): one enormous message never reaches the
grader's memory (finding 6 of issue 14), and the kernel's channels work again for the next cell."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from assessments.sandbox import SandboxUnavailable, check_available

try:
    check_available()
    SANDBOX = None
except SandboxUnavailable as error:
    SANDBOX = str(error)

MESSAGE_MB = 192
GRADER = f"""
import json, sys, tempfile
import nbformat
from assessments.execute import LimitedExecute
from assessments.sandbox import SandboxKernelManager
nb = nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_code_cell("import sys\\nsys.stdout.write('x' * ({MESSAGE_MB} * 2**20))\\nsys.stdout.flush()"),
    nbformat.v4.new_code_cell("print('after', 6 * 7)"),
])
ex = LimitedExecute(timeout=30, iopub_timeout=4, raise_on_iopub_timeout=False, interrupt_on_timeout=True,
                    kernel_manager_class=SandboxKernelManager, kernel_name="python3")
ex.preprocess(nb, {{"metadata": {{"path": tempfile.mkdtemp()}}}})
texts = [[o.get("text", "") for o in c.outputs] for c in nb.cells]
# VmHWM, not ru_maxrss: ru_maxrss keeps the peak of the process that spawned this one (a big pytest run)
peak_kb = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])
print(json.dumps({{"peak_mb": peak_kb / 1024, "texts": texts}}))
"""


@pytest.mark.skipif(SANDBOX is not None, reason=f"bubblewrap unavailable: {SANDBOX}")
def test_one_enormous_message_is_dropped_before_the_grader_holds_it():
    run = subprocess.run([sys.executable, "-c", GRADER], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["peak_mb"] < MESSAGE_MB, report["peak_mb"]  # holding the message would take more than this
    first, second = report["texts"]
    assert sum(map(len, first)) < 1000 and any("over the grader's size limit was dropped" in t for t in first)
    assert second == ["after 42\n"]  # the channels were re-made: the next cell's output arrives


KERNEL_LITTER = """import json, os
roots = {line.split()[4]: line.split()[3] for line in open('/proc/self/mountinfo')}
try:
    open('/workbook/.connection.json', 'a').write('{}')
    connection = 'written'
except OSError:
    connection = 'read-only'
open('/workbook/.sockets/junk', 'w').write('x' * 1000)
os.symlink('/etc/passwd', '/workbook/.sockets/connection.json')
os.mkfifo('/workbook/.sockets/kernel-1.fifo')
print('REPORT ' + json.dumps({'roots': roots, 'connection': connection}))
"""


@pytest.mark.skipif(SANDBOX is not None, reason=f"bubblewrap unavailable: {SANDBOX}")
def test_the_socket_folder_is_a_throwaway_and_the_mounts_name_no_course_path(tmp_path):
    import os
    import tempfile

    import nbformat

    from assessments.execute import LimitedExecute
    from assessments.sandbox import REPO, SOCKET_MOUNT, SandboxKernelManager

    passwd = os.stat("/etc/passwd")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(KERNEL_LITTER)])
    ex = LimitedExecute(timeout=30, raise_on_iopub_timeout=False, kernel_manager_class=SandboxKernelManager,
                        kernel_name="python3")
    ex.preprocess(nb, {"metadata": {"path": tempfile.mkdtemp(dir=tmp_path)}})
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    report = json.loads(text.split("REPORT ", 1)[1].splitlines()[0])
    assert report["connection"] == "read-only"  # the kernel cannot rewrite what the grader connected with
    socket_folder = report["roots"][SOCKET_MOUNT]
    assert socket_folder.startswith(tempfile.gettempdir()) and not os.path.lexists(socket_folder)  # deleted
    assert not os.path.lexists(report["roots"]["/workbook/.connection.json"])
    assert os.stat("/etc/passwd") == passwd  # the link in it was removed, never followed
    named = [source for source in report["roots"].values() if source.startswith(str(REPO))]
    venv = os.path.realpath(sys.prefix)
    assert all(source.startswith(venv) for source in named), named  # only the interpreter's own install
