"""Every chapter and lab notebook: committed clean, stamped from one config, and executing headless and strict.

Chapters run twice, in one test: the student notebook (every exercise must say "not answered yet"), then its solutions
source (every exercise right, every worked "Try it" re-run, no typed figure in the prose). The labs run in one test,
in order, since each starts from the previous lab's packet.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections import Counter
from urllib.parse import unquote

import nbformat
import pytest

from tools.figures import typed_figures
from tools.nbsync import KERNELSPEC, ROOT, SOLUTION_TAG, course_notebooks, solution_notebooks
from workbook.core.notebook_runner import execute

NOTEBOOKS = course_notebooks()
SOLUTIONS = solution_notebooks()
CELL_TIMEOUT_S = 600  # the slowest FAST cell takes ~220 s alone on 2 cores, longer on one of two test workers
IDS = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
SOLUTION_IDS = [p.relative_to(ROOT).as_posix() for p in SOLUTIONS]
EXERCISE_LINE = re.compile(r"^\[(correct|incorrect| )\] Exercise (\d\d)\.(\d+)", re.M)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=IDS + SOLUTION_IDS)
def test_committed_without_outputs_and_with_kernelspec(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == KERNELSPEC["name"]
    dirty = [
        i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])
    ]
    assert not dirty, f"code cells {dirty} carry outputs: run `make sync`"


def test_badges_bootstrap_and_student_copies_are_generated():
    result = subprocess.run([sys.executable, "-m", "tools.nbsync", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", SOLUTIONS, ids=SOLUTION_IDS)
def test_every_try_it_has_a_worked_solution(path):
    cells = nbformat.read(path, as_version=4).cells
    missing = [
        i for i, cell in enumerate(cells)
        if cell.cell_type == "markdown" and "Try it" in cell.source
        and not (i + 1 < len(cells) and SOLUTION_TAG in cells[i + 1].metadata.get("tags", []))
    ]  # fmt: skip
    assert not missing, f"'Try it' cells {missing} are not followed by a cell tagged {SOLUTION_TAG!r}"


def _printed(nb) -> str:
    return "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )


def _exercise_states(nb, chapter: str) -> dict[int, str]:
    """Each exercise's last reported state in an executed chapter, checked against the chapter's answer key."""
    states = {int(n): state for state, ch, n in EXERCISE_LINE.findall(_printed(nb)) if ch == chapter}
    key = importlib.import_module(f"workbook.exercises.ch{chapter}").EXERCISES
    assert sorted(states) == sorted(key), f"exercises reported {sorted(states)}, the answer key has {sorted(key)}"
    return states


def _assert_each_widget_shown_once(nb) -> None:
    shown = Counter(
        o["data"][WIDGET_VIEW]["model_id"]
        for c in nb.cells if c.cell_type == "code" for o in c.outputs if WIDGET_VIEW in o.get("data", {})
    )  # fmt: skip
    twice = {model: n for model, n in shown.items() if n > 1}
    assert not twice, f"widgets displayed more than once: {twice}"


def _assert_no_typed_figures(nb) -> None:
    findings = typed_figures(nb)
    assert not findings, "figures typed into the prose (print them, or rewrite the sentence):\n" + "\n".join(
        map(str, findings)
    )


CHAPTERS = [p for p in NOTEBOOKS if p.parent.name == "chapters"]
LABS = [p for p in NOTEBOOKS if p.parent.name == "labs"]  # in order: each lab starts from the previous one's packet
SOLUTION_OF = {p.name: p for p in SOLUTIONS}


@pytest.mark.notebook
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name[:2] for p in CHAPTERS])
def test_chapter_runs_blank_then_solved(path):
    """The student copy (every exercise "not answered yet"), then its solutions source (every exercise right, every
    worked "Try it" re-run): one test, since both write the chapter's build/ folders (`make test` runs two workers)."""
    nb, seconds = execute(path, fast=True, timeout=CELL_TIMEOUT_S)  # the executed copy lands in build/executed/
    print(f"{path.name}: {seconds:.1f} s")
    _assert_each_widget_shown_once(nb)
    states = _exercise_states(nb, path.name[:2])
    assert set(states.values()) == {" "}, f"exercises answered before the student did anything: {states}"

    solved, seconds = execute(SOLUTION_OF[path.name], fast=True, timeout=CELL_TIMEOUT_S)
    print(f"solutions/{path.name}: {seconds:.1f} s")
    _assert_each_widget_shown_once(solved)
    states = _exercise_states(solved, path.name[:2])
    assert set(states.values()) == {"correct"}, f"solutions that do not solve: {states}"
    _assert_no_typed_figures(solved)


@pytest.mark.notebook
def test_labs_run_in_order():
    """Lab 1, then Lab 2 from Lab 1's packet and adapter, then Lab 3 from Lab 2's: one test, in order."""
    assert [p.name[:4] for p in LABS] == ["lab1", "lab2", "lab3"]
    for path in LABS:
        nb, seconds = execute(path, fast=True, timeout=CELL_TIMEOUT_S)
        print(f"{path.name}: {seconds:.1f} s")
        _assert_each_widget_shown_once(nb)
        _assert_no_typed_figures(nb)


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
