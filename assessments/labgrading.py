"""Lab grading: the nbgrader source notebook of a lab, and the trusted re-check of its evidence packet.

The lab notebook in `labs/` is the single source. `build_lab_notebook` copies it, marks its cells for nbgrader
(everything read-only except the cells the spec leaves to the student), and appends one graded cell per gate:

    gate_<name>:  a visible part the student can run (the report of that gate on their packet) and a hidden part
                  that re-checks the packet against the instructor's locked test set restored from source/ and
                  the submitting student's id, and returns partial credit (points x the validator's 0..1 score).

The data files the gates compare against (locked test set, prompt sets) are shipped in source/<lab>/data/ so
nbgrader restores the instructor's copy over whatever the student uploaded. Evidence lives in evidence/, so no
evidence file can share a path with a file in source/.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from assessments import integrity
from assessments.build import code, markdown, nbgrader_meta, new_notebook

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LABS = HERE / "labs"
STUDENT_ENV = "WORKBOOK_STUDENT_ID"


def lab_spec(assignment: str) -> dict | None:
    """The lab's spec (assessments/labs/<assignment>.yaml), or None when the assignment is not a lab."""
    path = LABS / f"{assignment}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def locked_test_in(course: Path, assignment: str) -> Path:
    spec = lab_spec(assignment) or {}
    return course / "source" / assignment / spec.get("locked_test", "data/compliance/locked_test.jsonl")


def student_id_problem(evidence: Path, student: str | None) -> str | None:
    """A failure message when the packet's manifest names another student (a copied packet), else None."""
    if not student:
        return None
    recorded = integrity.manifest_student(evidence)
    if recorded is not None and recorded != student:
        return (f"manifest.json records student_id '{recorded}' but this submission is from '{student}': "
                "a packet must come from your own run")
    return None


def gate_score(name: str, evidence: Path, locked_test: Path | None, student: str | None):
    """The validator's verdict on one gate, with the copied-packet check folded into reproducibility."""
    from workbook.evidence import GateResult, check_gate

    result = check_gate(name, evidence, locked_test)
    problem = student_id_problem(evidence, student) if name == "reproducibility" else None
    if problem:
        result = GateResult(result.name, False, 0.0, [*result.failures, problem], list(getattr(result, "notes", [])))
    return result


def trusted_gates(course: Path, assignment: str, folder: Path, student: str) -> dict:
    """grade_id -> GateResult for every gate, computed in the grader's process (not the student's kernel)."""
    spec = lab_spec(assignment) or {}
    locked = locked_test_in(course, assignment)
    evidence = folder / "evidence"
    return {f"gate_{g}": gate_score(g, evidence, locked if locked.is_file() else None, student)
            for g in spec.get("gates", {})}


def copied_packets(course: Path, assignment: str, students: list[str]) -> dict[str, list[str]]:
    packets = {s: course / "autograded" / s / assignment / "evidence" for s in students}
    return integrity.find_copies({s: p for s, p in packets.items() if p.is_dir()})


# ------------------------------------------------------------------------------------------- building the source

GATE_SETUP = '''# Grading setup (read-only). The gates below check the evidence packet this notebook wrote.
import contextlib
import io
import json
import os
import warnings
from pathlib import Path

from workbook.evidence import check_gate, format_report

warnings.filterwarnings("ignore")  # a library warning on stderr would zero a graded cell
EVIDENCE = Path("evidence")
LOCKED_TEST = Path("{locked_test}")  # the instructor's copy is restored here when graded
GRADER_STUDENT_ID = os.environ.get("{student_env}")  # set by the grader's sandbox from the submission folder


def run_gate(name):
    """Print one gate's report on this packet and return its result (library stderr is swallowed)."""
    with contextlib.redirect_stderr(io.StringIO()):
        result = check_gate(name, EVIDENCE, LOCKED_TEST if LOCKED_TEST.is_file() else None)
    print(format_report({{name: result}}))
    return result


def packet_student():
    """The student_id recorded in evidence/manifest.json (None when absent or unreadable)."""
    try:
        return json.loads((EVIDENCE / "manifest.json").read_text(encoding="utf-8")).get("student_id")
    except (OSError, ValueError, AttributeError):
        return None'''

GATE_VISIBLE = '''result = run_gate("{gate}")
assert result.score > 0, "this gate found nothing it could accept: see the report above"'''

GATE_HIDDEN = {
    "reproducibility": '''if GRADER_STUDENT_ID and packet_student() != GRADER_STUDENT_ID:
    print(f"FAIL reproducibility: manifest.json records student_id {packet_student()!r}, but this "
          f"submission is from {GRADER_STUDENT_ID!r}: the packet must come from your own run")
    result.score = 0.0''',
}
GATE_CREDIT = "round({points} * result.score, 3)  # partial credit: points x the share of checks passed"


def build_lab_notebook(spec: dict, spec_path: Path) -> tuple[str, nbformat.NotebookNode, dict[str, Path]]:
    """The lab's nbgrader source notebook and the files to ship beside it, from the lab notebook + spec."""
    name = spec["assignment"]
    notebook_path = REPO / spec["notebook"]
    if not notebook_path.is_file():
        raise FileNotFoundError(f"{spec_path}: lab notebook {spec['notebook']} does not exist yet.")
    lab = nbformat.read(notebook_path, as_version=4)
    markers = spec.get("student_cells_containing", [])
    found = {marker: 0 for marker in markers}
    cells = []
    for index, cell in enumerate(lab.cells):
        cell = nbformat.from_dict(cell)
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        hits = [m for m in markers if m in cell.source]
        for marker in hits:
            found[marker] += 1
        if not hits:
            cell.metadata.update(nbgrader_meta(f"{name}_cell_{index:02d}", locked=True))
        cells.append(cell)
    unmatched = [m for m, n in found.items() if n != 1]
    if unmatched:
        raise ValueError(f"{spec_path}: student_cells_containing {unmatched} must each match exactly one cell of "
                         f"{spec['notebook']}.")
    locked_rel = spec["locked_test"]
    cells.append(markdown(spec["gates_intro"], f"{name}_gates_intro"))
    cells.append(code(GATE_SETUP.format(locked_test=locked_rel, student_env=STUDENT_ENV), f"{name}_gates_setup",
                      locked=True))
    for gate, points in spec["gates"].items():
        hidden = [GATE_HIDDEN[gate]] if gate in GATE_HIDDEN else []
        hidden.append(GATE_CREDIT.format(points=points))
        source = "\n".join([GATE_VISIBLE.format(gate=gate), "### BEGIN HIDDEN TESTS", *hidden,
                             "### END HIDDEN TESTS"])
        cells.append(code(source, f"gate_{gate}", grade=True, locked=True, points=points))
    nb = new_notebook(cells)
    nb.metadata["workbook"] = {"notebook": spec["notebook"]}
    files = {rel: REPO / src for rel, src in spec.get("files", {}).items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{spec_path}: files to ship are missing: {missing}")
    return name, nb, files
