"""nbgrader cell metadata (schema 3) and the cell and notebook constructors the builders share."""

from __future__ import annotations

from pathlib import Path

import nbformat

SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=0) -> dict:
    """The `metadata` of an nbgrader cell; `points` only on grade cells."""
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked,
            "schema_version": SCHEMA_VERSION}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def markdown(text: str, grade_id: str | None = None) -> nbformat.NotebookNode:
    """A markdown cell, locked when it has a grade_id."""
    meta = nbgrader_meta(grade_id, locked=True) if grade_id else {}
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=meta)


def code(text: str, grade_id: str | None = None, **flags) -> nbformat.NotebookNode:
    """A code cell with the given nbgrader flags (solution, grade, locked, points) when it has a grade_id."""
    meta = nbgrader_meta(grade_id, **flags) if grade_id else {}
    return nbformat.v4.new_code_cell(text.strip("\n"), metadata=meta)


def solution_block(text: str) -> str:
    """Wrap an answer in nbgrader's solution markers unless it places them itself (e.g. inside a def)."""
    text = text.strip("\n")
    if "### BEGIN SOLUTION" in text:
        return text
    return f"### BEGIN SOLUTION\n{text}\n### END SOLUTION"


def test_block(visible: str, hidden: str | None) -> str:
    """Visible asserts first, then the hidden part that generate_assignment strips from the release."""
    parts = [visible.strip("\n")]
    if hidden:
        parts.append(f"### BEGIN HIDDEN TESTS\n{hidden.strip(chr(10))}\n### END HIDDEN TESTS")
    return "\n".join(parts)


def new_notebook(cells: list) -> nbformat.NotebookNode:
    """A notebook of `cells` with the course kernelspec, in nbformat 4.4 (no random cell ids: reproducible)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 4
    for cell in nb.cells:
        cell.pop("id", None)
    return nb


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
