"""Build the nbgrader source notebooks from one source of truth each.

    python -m assessments.build            # write assessments/source/<assignment>/
    python -m assessments.build --check    # exit 1 if a committed source notebook is out of date

Quizzes come from `assessments/quizzes/<assignment>.yaml`. A lab comes from its notebook in `labs/` plus
`assessments/labs/<assignment>.yaml`: every cell is locked except those the spec leaves to the student, and one
graded cell per gate is appended, with a visible part (the gate's report on the packet) and a hidden part (the
submitting student's id, and partial credit: points x the validator's 0..1 score). The spec's data files (locked
test set, prompt sets) are shipped in source/<lab>/ so nbgrader restores the instructor's copies at grading.
Cells are marked for nbgrader through their metadata only. Nothing here is ever copied by hand.
"""

from __future__ import annotations

import argparse
import filecmp
import inspect
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from assessments import integrity, specs
from assessments.cells import code, markdown, nbgrader_meta, new_notebook, solution_block, test_block, write_notebook
from assessments.isolation import hidden_problems

REPO = specs.HERE.parent
SOURCE = specs.HERE / "source"
STUDENT_ENV = "WORKBOOK_STUDENT_ID"

GATE_SETUP = '''# Grading setup (read-only). The gates below check the evidence packet this notebook wrote.
import contextlib
import io
import json
import os
import warnings
from pathlib import Path

from workbook.evidence.gates import check_gate
from workbook.evidence.report import format_report

warnings.filterwarnings("ignore")  # a library warning on stderr would zero a graded cell
EVIDENCE = Path("{evidence}")
LOCKED_TEST = Path("{locked_test}")  # the instructor's copy is restored here when graded
GRADER_STUDENT_ID = os.environ.get("{student_env}")  # set by the grader's sandbox from the submission folder


def run_gate(name):
    """Print one gate's report on this packet and return its result (library stderr is swallowed)."""
    with contextlib.redirect_stderr(io.StringIO()):
        result = check_gate(name, EVIDENCE, LOCKED_TEST if LOCKED_TEST.is_file() else None)
    print(format_report({{name: result}}))
    return result


{student_check}'''

GATE_VISIBLE = '''result = run_gate("{gate}")
assert result.score > 0, "this gate found nothing it could accept: see the report above"'''

# The hidden part of the lab's student_id_gate: a packet whose manifest records another student scores 0.
STUDENT_HIDDEN = '''problem = student_id_problem(EVIDENCE, GRADER_STUDENT_ID)
if problem:
    print(f"FAIL {gate}: {{problem}}")
    result.score = 0.0'''
GATE_CREDIT = "round({points} * result.score, 3)  # partial credit: points x the share of checks passed"


def build_quiz(path: Path) -> tuple[str, nbformat.NotebookNode]:
    """The source notebook of one quiz: per question a prompt, an answer cell and a graded test cell."""
    spec = specs.load_quiz(path)
    name = spec["assignment"]
    cells = [markdown(f"# {spec['title']}\n\n{spec['intro']}", f"{name}_intro")]
    if spec.get("setup"):
        cells.append(code(spec["setup"], f"{name}_setup", locked=True))
    for number, q in enumerate(spec["questions"], 1):
        qid = q["id"]
        header = f"## Question {number} ({q['kind']}, {q['points']} point{'s' if q['points'] != 1 else ''})"
        cells.append(markdown(f"{header}\n\n{q['prompt']}", f"{qid}_prompt"))
        cells.append(code(solution_block(q["solution"]), f"{qid}_answer", solution=True))
        test = test_block(q["tests"], q["hidden"])
        problems = hidden_problems(test, q["points"])
        if problems:  # hidden tests are compared in the grader, never run in the student's kernel
            raise specs.SpecError(f"{path}: question {qid}: " + "; ".join(problems))
        cells.append(code(test, f"{qid}_test", grade=True, locked=True, points=q["points"]))
    if spec.get("outro"):
        cells.append(markdown(spec["outro"], f"{name}_outro"))
    return name, new_notebook(cells)


def build_lab(path: Path) -> tuple[str, nbformat.NotebookNode, dict[str, Path]]:
    """The lab's source notebook and the instructor files to ship beside it (relative path -> repository file)."""
    spec = specs.load_lab(path)
    name = spec["assignment"]
    notebook_path = REPO / spec["notebook"]
    if not notebook_path.is_file():
        raise FileNotFoundError(f"{path}: lab notebook {spec['notebook']} does not exist.")
    lab = nbformat.read(notebook_path, as_version=4)
    markers = spec["student_cells_containing"]
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
        raise specs.SpecError(f"{path}: student_cells_containing {unmatched} must each match exactly one cell of "
                              f"{spec['notebook']}.")
    # The sandboxed kernel cannot import assessments: the setup cell carries the grader's own student-id check.
    student_check = "\n\n".join(inspect.getsource(f).strip()
                                for f in (integrity.manifest_student, integrity.student_id_problem))
    setup = GATE_SETUP.format(locked_test=spec["locked_test"], student_env=STUDENT_ENV, student_check=student_check,
                              evidence=spec["evidence"])
    cells.append(markdown(spec["gates_intro"], f"{name}_gates_intro"))
    cells.append(code(setup, f"{name}_gates_setup", locked=True))
    for gate, points in spec["gates"].items():
        hidden = [STUDENT_HIDDEN.format(gate=gate)] if gate == spec["student_id_gate"] else []
        hidden.append(GATE_CREDIT.format(points=points))
        source = "\n".join([GATE_VISIBLE.format(gate=gate), "### BEGIN HIDDEN TESTS", *hidden,
                            "### END HIDDEN TESTS"])
        cells.append(code(source, f"gate_{gate}", grade=True, locked=True, points=points))
    nb = new_notebook(cells)
    nb.metadata["workbook"] = {"notebook": spec["notebook"]}
    files = {rel: REPO / src for rel, src in spec["files"].items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: files to ship are missing: {missing}")
    return name, nb, files


def build_all(out: Path = SOURCE) -> list[str]:
    """Write every assignment's source folder under `out`; return the assignment names."""
    names = []
    for path in specs.quiz_specs():
        name, nb = build_quiz(path)
        write_notebook(nb, out / name / f"{name}.ipynb")
        names.append(name)
    for path in specs.lab_specs():
        spec = specs.load_lab(path)
        if not (REPO / spec["notebook"]).is_file():
            print(f"skipping {spec['assignment']}: {spec['notebook']} is not in this checkout", file=sys.stderr)
            continue
        name, nb, files = build_lab(path)
        folder = out / name
        write_notebook(nb, folder / Path(spec["notebook"]).name)
        for rel, src in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, folder / rel)
        names.append(name)
    return names


def stale_paths(committed: Path = SOURCE) -> list[str]:
    """Files that differ between a fresh build and `committed` (either side missing counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        build_all(fresh)
        return diff_trees(fresh, committed)


def diff_trees(a: Path, b: Path) -> list[str]:
    files_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()} if b.exists() else set()
    changed = [f for f in files_a & files_b if not filecmp.cmp(a / f, b / f, shallow=False)]
    return sorted(set(changed) | (files_a ^ files_b))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale source files instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_paths()
        for path in stale:
            print(f"stale: assessments/source/{path}")
        if stale:
            print("Run `python -m assessments.build` (or `python -m assessments.cli release`) to rebuild.")
        return 1 if stale else 0
    if SOURCE.exists():
        shutil.rmtree(SOURCE)
    for name in build_all():
        print(f"built assessments/source/{name}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
