"""nbgrader preprocessors of the course (wired in nbgrader_config.py).

- `RestoreMissingCells` (autograde, before nbgrader's OverwriteCells): a graded or read-only cell the student
  deleted, or whose nbgrader metadata they stripped, is put back from the release at its original place.
  OverwriteCells then restores the instructor's full text (hidden tests included) from the gradebook, so the
  cell is graded as if it had never been touched. Deleted answer cells come back as the empty stub.
- `HideHiddenTestDetails` (feedback): in cells that hold hidden tests, error tracebacks are cut to the
  exception's message, since a traceback quotes the failing hidden line.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

HERE = Path(__file__).resolve().parent
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _protected(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade") or meta.get("locked") or meta.get("solution"))


def missing_cells(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """grade_ids of the release's graded, read-only or answer cells that the submission lacks."""
    present = {grade_id(c) for c in submitted.cells}
    return [grade_id(c) for c in release.cells if _protected(c) and grade_id(c) not in present]


def restore_cells(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Insert the release's version of every missing protected cell after its nearest surviving predecessor."""
    missing = set(missing_cells(submitted, release))
    for index, cell in enumerate(release.cells):
        if grade_id(cell) not in missing:
            continue
        position = 0
        for earlier in reversed(release.cells[:index]):
            ids = [grade_id(c) for c in submitted.cells]
            if grade_id(earlier) and grade_id(earlier) in ids:
                position = ids.index(grade_id(earlier)) + 1
                break
        restored = nbformat.from_dict(cell)
        restored.pop("id", None)
        if restored.cell_type == "code":
            restored.outputs, restored.execution_count = [], None
        submitted.cells.insert(position, restored)
    return sorted(missing)


class RestoreMissingCells(NbGraderPreprocessor):
    """Put back deleted graded/read-only cells before nbgrader overwrites them with the instructor's text."""

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        course = Path(os.environ.get("WORKBOOK_COURSE_ROOT", HERE))
        release = course / "release" / str(info.get("assignment", "")) / f"{info.get('notebook', '')}.ipynb"
        if release.is_file():
            restored = restore_cells(nb, nbformat.read(release, as_version=4))
            if restored:
                self.log.warning("Restored deleted or unmarked cells %s from the release", restored)
        return nb, resources


class HideHiddenTestDetails(NbGraderPreprocessor):
    """Keep only 'Error: message' of failures in cells with hidden tests (tracebacks quote the hidden code)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            for output in cell.outputs:
                if output.output_type == "error":
                    message = f"{output.ename}: {output.evalue}" if output.evalue else f"{output.ename} (hidden test)"
                    output.traceback = [message]
        return cell, resources
