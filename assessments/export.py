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
from assessments.preprocessors import missing_cells
from assessments.specs import lab_spec

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
    flags = []
    for submitted, release in _submitted_notebooks(course, student, assignment):
        try:
            nb = nbformat.read(submitted, as_version=4)
        except Exception as exc:  # an unreadable notebook is reported, not fatal
            flags.append(f"{submitted.name} unreadable: {exc}")
            continue
        restored = missing_cells(nb, nbformat.read(release, as_version=4))
        if restored:
            flags.append(f"restored deleted/unmarked cells: {', '.join(restored)}")
        hooks = integrity.suspicious_code(nb)
        if hooks:
            flags.append("kernel hooks in student code (review by hand): " + " | ".join(hooks[:3]))
    return flags


def export(course: Path = HERE, out: Path | None = None) -> list[Path]:
    """Write grades.csv, grades.json and one wide CSV per lab into `out` (default course/exports)."""
    out = out or course / "exports"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    report: dict[str, dict] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gb:
        students = sorted(s.id for s in gb.students)
        for assignment in sorted(a.name for a in gb.assignments):
            copies = regrade.copied_packets(course, assignment, students) if lab_spec(assignment) else {}
            for student in students:
                try:
                    submission = gb.find_submission(assignment, student)
                except MissingEntry:
                    continue
                folder = course / "autograded" / student / assignment
                trusted = regrade.trusted_gates(course, assignment, folder, student)
                flags = notebook_flags(course, student, assignment)
                if copies.get(student):
                    flags.append(f"evidence files identical to: {', '.join(copies[student])}")
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
                report.setdefault(student, {})[assignment] = {
                    "score": total, "max_score": maximum, "items": items, "flags": flags}
                for name, entry in items.items():
                    rows.append({"student_id": student, "assignment": assignment, "item": name,
                                 "score": entry["score"], "max_score": entry["max_score"],
                                 "failures": " | ".join(entry["failures"]), "flags": " | ".join(flags)})
    written = [_write_csv(out / "grades.csv", rows), out / "grades.json"]
    (out / "grades.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for assignment in sorted({r["assignment"] for r in rows if lab_spec(r["assignment"])}):
        written.append(_write_wide(out / f"{assignment}_gates.csv", assignment, report))
    return written


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
