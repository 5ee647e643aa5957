"""Every chapter and lab notebook: committed clean, stamped from one config, and executing headless."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from urllib.parse import unquote

import pytest

from tools.nbsync import KERNELSPEC, ROOT, course_notebooks
from workbook.core.notebook_runner import execute

NOTEBOOKS = course_notebooks()
CELL_TIMEOUT_S = 300  # the slowest FAST cell takes ~220 s on a loaded 2-core machine
IDS = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_committed_without_outputs_and_with_kernelspec(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == KERNELSPEC["name"]
    dirty = [
        i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])
    ]
    assert not dirty, f"code cells {dirty} carry outputs: run `make sync`"


def test_badges_and_bootstrap_cells_are_stamped_from_config():
    result = subprocess.run([sys.executable, "-m", "tools.nbsync", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_executes_in_fast_mode(path):
    _, seconds = execute(path, fast=True, timeout=CELL_TIMEOUT_S)  # the executed copy lands in build/executed/
    print(f"{path.name}: {seconds:.1f} s")


def _anchors(path) -> set[str]:
    """Heading anchors as Jupyter makes them: the heading text with spaces turned into dashes."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    return {
        line.lstrip("#").strip().replace(" ", "-")
        for cell in nb["cells"]
        if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("#")
    }


def test_links_between_notebooks_reach_a_real_section():
    link = re.compile(r"\]\(((?:\.\./)?(?:chapters/|labs/)?[0-9a-z_]*(?:\.ipynb)?)#([^)\s]+)\)")
    by_name = {p.name: p for p in NOTEBOOKS}
    broken = []
    for path in [*NOTEBOOKS, ROOT / "README.md"]:
        for target, anchor in link.findall(path.read_text(encoding="utf-8")):
            name = target.rsplit("/", 1)[-1] or path.name
            if name not in by_name or unquote(anchor) not in _anchors(by_name[name]):
                broken.append(f"{path.name} -> {target}#{anchor}")
    assert not broken, "links to missing notebooks or sections:\n" + "\n".join(broken)
