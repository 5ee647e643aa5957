"""The Colab/GPU paths that a CPU can still check: the bootstrap's clone failure, and Unsloth's import order.

Unsloth (installed `--no-deps` into build/unsloth-cpu by `make unsloth-cpu`, which `make test` runs) imports on a
CPU with UNSLOTH_ALLOW_CPU=1 and skips its TRL patchers there; calling them by hand shows what happens on a GPU.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from tools.nbsync import BOOTSTRAP, course_notebooks
from workbook.core.config import COLAB_CLONE_DIR, REPO_URL, ROOT

UNSLOTH_DIR = ROOT / "build" / "unsloth-cpu"


def _code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_bootstrap_explains_a_failed_clone(tmp_path):
    """A repository that cannot be cloned gives a message and what to do, not a CalledProcessError traceback."""
    (tmp_path / "google").mkdir()
    (tmp_path / "google" / "colab.py").write_text("")  # `import google.colab` makes the cell take its Colab branch
    missing = (tmp_path / "no-such-repo").as_uri()
    cell = BOOTSTRAP.replace(REPO_URL, missing).replace(COLAB_CLONE_DIR, str(tmp_path / "clone"))
    # -S: no site-packages, so `import workbook` fails as in a fresh Colab kernel
    code = "import google.colab\n" + cell
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert done.returncode != 0
    assert "Could not clone" in done.stderr and "REPO_SLUG in workbook/core/config.py" in done.stderr
    assert "Traceback" not in done.stderr


def test_bootstrap_clones_the_branch_the_badge_names():
    assert re.search(r'"git", "clone", "--depth", "1", "-b", BRANCH', BOOTSTRAP)


def test_unsloth_is_imported_before_trl_wherever_both_are():
    for path in course_notebooks():
        for cell in _code_cells(path):
            unsloth, trl = cell.find("from unsloth import"), cell.find("from trl import")
            if unsloth >= 0 and trl >= 0:
                assert unsloth < trl, f"{path.name}: import unsloth before trl, or it keeps TRL's trainer class"


@pytest.mark.skipif(not UNSLOTH_DIR.is_dir() and not os.environ.get("CI"), reason="run `make unsloth-cpu` first")
def test_trl_imported_first_keeps_trls_trainer(tmp_path):
    """What the import order decides: a name bound before Unsloth patches TRL keeps TRL's own SFTTrainer."""
    code = (
        "from trl import SFTTrainer as early\n"
        "import unsloth\n"
        "from unsloth.models.rl import patch_trl_rl_trainers\n"
        "patch_trl_rl_trainers()  # what importing Unsloth does on a GPU\n"
        "from trl import SFTTrainer as late\n"
        "print(early.__name__, late.__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(UNSLOTH_DIR), "UNSLOTH_ALLOW_CPU": "1"}
    # cwd: Unsloth writes its compiled-trainer cache into the working folder
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["SFTTrainer", "UnslothSFTTrainer"]
