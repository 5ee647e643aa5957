"""nbgrader preprocessors of the course (wired in nbgrader_config.py).

- `RestoreMissingCells` (autograde, the first sanitising step): the submission's nbgrader metadata is put back to
  the release's, by content: a graded, read-only or answer cell the student deleted is re-inserted at its original
  place; one whose flags, points, schema version or type they changed gets the release's metadata back; a cell
  claiming a grade id the release does not have (invented, renamed or copy-pasted) becomes an ordinary cell; a
  cell without `source` or with metadata of the wrong type is repaired. nbgrader's OverwriteCells then restores
  the instructor's full text (hidden tests included), so every graded cell is graded as released, and no
  metadata edit can make nbgrader drop an honest notebook. Deleted answer cells come back as the empty stub.
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


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    value = meta.get("nbgrader") if isinstance(meta, dict) else None
    return value if isinstance(value, dict) else {}


def grade_id(cell) -> str | None:
    value = _nbgrader(cell).get("grade_id")
    return value if isinstance(value, str) else None


def _protected(cell) -> bool:
    meta = _nbgrader(cell)
    return bool(meta.get("grade") or meta.get("locked") or meta.get("solution"))


def _cells(nb) -> list:
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def missing_cells(submitted, release) -> list[str]:
    """grade_ids of the release's graded, read-only or answer cells that the submission lacks."""
    present = {grade_id(c) for c in _cells(submitted)}
    return [grade_id(c) for c in _cells(release) if _protected(c) and grade_id(c) not in present]


def remark_cells(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Put every cell's nbgrader metadata back to the release's, in place. Returns what changed:
    `remarked` (release ids whose flags, points, schema or type were edited), `unmarked` (ids the release does
    not have, or repeats of one, made ordinary cells) and `repaired` (cells without source or with bad metadata)."""
    released = {grade_id(c): c for c in _cells(release) if grade_id(c)}
    changes: dict[str, list[str]] = {"remarked": [], "unmarked": [], "repaired": []}
    seen: set[str] = set()
    cells = []
    for index, cell in enumerate(submitted.get("cells") or []):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            changes["repaired"].append(f"cell {index}")
            continue
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            cell["source"] = "".join(source)  # how notebooks store it on disk
        elif not isinstance(source, str):
            cell["source"] = ""
            changes["repaired"].append(f"cell {index}")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
            changes["repaired"].append(f"cell {index}")
        meta = cell["metadata"].get("nbgrader")
        if "nbgrader" in cell["metadata"]:
            gid = grade_id(cell)
            original = released.get(gid)
            if original is None or gid in seen or original.get("cell_type") != cell.get("cell_type"):
                del cell["metadata"]["nbgrader"]
                changes["unmarked"].append(str(gid) if gid else f"cell {index}")
            else:
                seen.add(gid)
                if meta != original["metadata"]["nbgrader"]:
                    cell["metadata"]["nbgrader"] = nbformat.from_dict(dict(original["metadata"]["nbgrader"]))
                    changes["remarked"].append(gid)
        if cell.get("cell_type") == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        cells.append(nbformat.from_dict(cell))
    submitted["cells"] = cells
    return changes


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


def repair_notebook(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> dict[str, list[str]]:
    """remark_cells, then restore_cells: the submission's graded structure is the release's. Returns the changes."""
    changes = remark_cells(submitted, release)
    changes["restored"] = restore_cells(submitted, release)
    return changes


def describe_repairs(changes: dict[str, list[str]]) -> list[str]:
    """Human-readable flags for an export."""
    labels = {"restored": "restored deleted/unmarked cells", "remarked": "graded cells re-marked as released",
              "unmarked": "graded cells not in the release ignored", "repaired": "malformed cells repaired"}
    return [f"{labels[key]}: {', '.join(ids[:8])}" for key, ids in changes.items() if ids]


class RestoreMissingCells(NbGraderPreprocessor):
    """Give the submission the release's graded structure before nbgrader checks and overwrites its cells."""

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        course = Path(os.environ.get("WORKBOOK_COURSE_ROOT", HERE))
        release = course / "release" / str(info.get("assignment", "")) / f"{info.get('notebook', '')}.ipynb"
        if release.is_file():
            changes = repair_notebook(nb, nbformat.read(release, as_version=4))
            for line in describe_repairs(changes):
                self.log.warning("%s (from the release)", line)
        return nb, resources


class HideHiddenTestDetails(NbGraderPreprocessor):
    """Keep only 'Error: message' of failures in cells with hidden tests (tracebacks quote the hidden code), and
    redact any output line that quotes a hidden line (student code called by a hidden test could print its caller)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
            hidden = hidden_lines(cell.source)
            for output in cell.outputs:
                if output.output_type == "error":
                    output.evalue = redact(output.evalue or "", hidden)
                    message = f"{output.ename}: {output.evalue}" if output.evalue else f"{output.ename} (hidden test)"
                    output.traceback = [message]
                elif output.output_type == "stream":
                    output.text = redact(output.text, hidden)
                elif output.output_type in ("execute_result", "display_data"):
                    output.data = {k: redact(v, hidden) if isinstance(v, str) else v for k, v in output.data.items()}
        return cell, resources


def hidden_lines(source: str) -> set[str]:
    """The substantial lines of a cell's hidden tests (stripped), as they could be quoted."""
    part = source.split(HIDDEN_BEGIN, 1)[1].split("### END HIDDEN TESTS", 1)[0]
    return {line.strip() for line in part.splitlines() if len(line.strip()) >= 12}


def redact(text: str, hidden: set[str]) -> str:
    """`text` with every line that contains a hidden line replaced by a note."""
    if not hidden or not isinstance(text, str):
        return text
    return "\n".join("[a line of the hidden tests, removed]" if any(h in line for h in hidden) else line
                      for line in text.split("\n"))
