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
import json, resource, sys, tempfile
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
print(json.dumps({{"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "texts": texts}}))
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
