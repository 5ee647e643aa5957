"""Export grades per question and per lab gate to CSV and JSON, with integrity flags.

Scores come from nbgrader's gradebook. For a lab, each gate is re-checked here, outside the sandbox, by the same
validator the gate cells call, on the autograded copy of the packet and the instructor's locked test set; the
exported gate score is the lower of the two (a student cannot raise it by tampering with their kernel), and a
difference is flagged.

Files written to `out`:
- grades.csv: one row per student, assignment and item (question or gate), with score, max and failures;
- grades.json: the same, nested student -> assignment -> items, plus totals and flags;
- <lab>_gates.csv: one row per student with a column per gate (what an instructor reads first).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from assessments import integrity, regrade
from assessments.outcome import Outcome
from assessments.preprocessors import describe_repairs, repair_notebook
from assessments.specs import lab_spec
from workbook.evidence import untrusted

MAX_NOTEBOOK_BYTES = 100 * 2**20  # as large as an upload may be

HERE = Path(__file__).resolve().parent
COURSE_ID = "post-training-workbook"


def item_name(grade_id: str) -> str:
    return grade_id.removesuffix("_test")


def _submitted_notebooks(course: Path, student: str, assignment: str) -> list[tuple[Path, Path]]:
    """(submitted notebook, released notebook) pairs for one submission."""
    pairs = []
    for release in sorted((course / "release" / assignment).glob("*.ipynb")):
        submitted = course / "submitted" / student / assignment / release.name
        if submitted.is_file():
            pairs.append((submitted, release))
    return pairs


def notebook_flags(course: Path, student: str, assignment: str) -> list[str]:
    """Flags for a human from the submitted notebooks (read bounded, as plain JSON: never trusted to be valid)."""
    flags = []
    for submitted, release in _submitted_notebooks(course, student, assignment):
        try:
            nb = untrusted.read_json(submitted, limit=MAX_NOTEBOOK_BYTES, max_depth=64)
            if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
                raise untrusted.UntrustedFileError(f"{submitted.name} is not a notebook (no list of cells).")
        except untrusted.UntrustedFileError as exc:  # an unreadable notebook is reported, not fatal
            flags.append(f"{submitted.name} unreadable: {exc}")
            continue
        try:
            changes = repair_notebook(nbformat.from_dict(nb), nbformat.read(release, as_version=4))
        except Exception as exc:  # noqa: BLE001 - a notebook shaped beyond repair is flagged, not fatal
            flags.append(f"{submitted.name} could not be compared with the release: {type(exc).__name__}")
            changes = {}
        flags += describe_repairs(changes)
        hooks = integrity.suspicious_code(nb)
        if hooks:
            flags.append("kernel hooks in student code (review by hand): " + " | ".join(hooks[:3]))
    return flags


LIMIT_ERRORS = ("SubmissionStopped", "SubmissionTimeLimit", "MemoryError", "CellTimeoutError", "KeyboardInterrupt")


def limit_flags(folder: Path, assignment: str) -> list[str]:
    """Limits a submission hit, read from its autograded notebooks (written by nbgrader, not the kernel)."""
    hits = []
    for notebook in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        try:
            nb = untrusted.read_json(notebook, limit=MAX_NOTEBOOK_BYTES, max_depth=64)
        except untrusted.UntrustedFileError:
            continue
        for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
            for output in cell.get("outputs", []) if isinstance(cell, dict) else []:
                name = output.get("ename") if isinstance(output, dict) else None
                text = output.get("text", "") if isinstance(output, dict) else ""
                if name in LIMIT_ERRORS:
                    hits.append(f"{name}: {str(output.get('evalue', ''))[:160]}")
                elif isinstance(text, str) and "dropped]" in text:
                    hits.append("output budget: " + text.strip()[:120])
    unique = list(dict.fromkeys(hits))
    return [f"limit hit: {' | '.join(unique[:3])}"] if unique else []


def export(course: Path = HERE, out: Path | None = None) -> list[Path]:
    """Write grades.csv, grades.json and one wide CSV per lab into `out` (default course/exports)."""
    return export_outcome(course, out).paths


def _student_entry(gb: Gradebook, course: Path, assignment: str, student: str, copies: dict[str, list[str]],
                   near: dict[str, list[str]], similar: dict[str, dict[str, float]] | None = None):
    """(report entry, CSV rows) of one submission, or None when the student did not submit it."""
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    folder = course / "autograded" / student / assignment
    trusted = regrade.trusted_gates(course, assignment, folder, student)
    flags = notebook_flags(course, student, assignment)
    if copies.get(student):
        flags.append(f"evidence files identical to: {', '.join(copies[student])}")
    others = [s for s in near.get(student, []) if s not in copies.get(student, [])]
    if others:
        flags.append(f"evidence timing identical to (a copy with shifted times?): {', '.join(others)}")
    written = (similar or {}).get(student, {})
    if written:
        flags.append("failure-analysis explanations near-identical to (a reworded copy?): "
                     + ", ".join(f"{other} (similarity {ratio:.2f})" for other, ratio in written.items()))
    if not folder.is_dir():
        flags.append("not autograded: see the autograde command's SKIPPED lines")
    flags += limit_flags(folder, assignment)
    items = {}
    for nb in submission.notebooks:
        for grade in nb.grades:
            kernel = float(grade.score or 0.0)
            entry = {"score": kernel, "max_score": float(grade.max_score), "failures": []}
            gate = trusted.get(grade.name)
            if gate is not None:
                checked = round(gate.score * grade.max_score, 3)
                entry.update(kernel_score=kernel, trusted_score=checked, failures=list(gate.failures))
                entry["score"] = min(kernel, checked)
                if abs(kernel - checked) > 1e-6:
                    flags.append(f"{grade.name}: kernel gave {kernel:g}, re-check gave {checked:g}")
            items[item_name(grade.name)] = entry
    total = round(sum(i["score"] for i in items.values()), 3)
    maximum = sum(i["max_score"] for i in items.values())
    rows = [{"student_id": student, "assignment": assignment, "item": name, "score": entry["score"],
             "max_score": entry["max_score"], "failures": " | ".join(entry["failures"]), "flags": " | ".join(flags)}
            for name, entry in items.items()]
    return {"score": total, "max_score": maximum, "items": items, "flags": flags}, rows


def export_outcome(course: Path = HERE, out: Path | None = None) -> Outcome:
    """export, plus who could not be exported and why (one bad submission never stops the others)."""
    out = out or course / "exports"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    report: dict[str, dict] = {}
    outcome = Outcome("export")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        students = sorted(s.id for s in gb.students)
        for assignment in sorted(a.name for a in gb.assignments):
            lab = lab_spec(assignment) is not None
            copies = regrade.copied_packets(course, assignment, students) if lab else {}
            near = regrade.near_copies(course, assignment, students) if lab else {}
            similar = regrade.similar_writing(course, assignment, students) if lab else {}
            for student in students:
                try:
                    found = _student_entry(gb, course, assignment, student, copies, near, similar)
                except Exception as exc:  # report it and carry on with the class
                    outcome.skipped[f"{student}/{assignment}"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                    continue
                if found is None:
                    continue
                entry, student_rows = found
                report.setdefault(student, {})[assignment] = entry
                rows += student_rows
                outcome.done.append(f"{student}/{assignment}")
    written = [_write_csv(out / "grades.csv", rows), out / "grades.json"]
    (out / "grades.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for assignment in sorted({r["assignment"] for r in rows if lab_spec(r["assignment"])}):
        written.append(_write_wide(out / f"{assignment}_gates.csv", assignment, report))
    outcome.paths = written
    return outcome


def _write_csv(path: Path, rows: list[dict]) -> Path:
    fields = ["student_id", "assignment", "item", "score", "max_score", "failures", "flags"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_wide(path: Path, assignment: str, report: dict) -> Path:
    gates = sorted({item for s in report.values() if assignment in s for item in s[assignment]["items"]})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", *gates, "score", "max_score", "flags"])
        for student, assignments in sorted(report.items()):
            if assignment in assignments:
                entry = assignments[assignment]
                writer.writerow([student, *(entry["items"].get(g, {}).get("score", "") for g in gates),
                                 entry["score"], entry["max_score"], " | ".join(entry["flags"])])
    return path
