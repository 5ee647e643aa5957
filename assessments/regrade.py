"""Grade-time re-check of a lab's evidence packets, in the grader's process rather than the student's kernel.

export uses it: each gate is checked again by the validator the gate cells call (`workbook.evidence.gates.check_gate`)
on the autograded packet, against the instructor's locked test set restored in source/<lab>/ and the submitting
student's id; and packets whose run files are byte-identical across students are found.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from assessments import integrity
from assessments.specs import lab_spec
from workbook.evidence import untrusted
from workbook.evidence.gates import check_gate
from workbook.evidence.schema import GateResult


def _student_problem(evidence: Path, student: str | None) -> str | None:
    """integrity.student_id_problem, after a bounded read has shown the manifest is a plain, sane JSON file."""
    try:
        untrusted.read_json(Path(evidence) / "manifest.json")
    except untrusted.UntrustedFileError:
        return None  # the student-id gate already fails on an unreadable manifest, with the reason
    return integrity.student_id_problem(evidence, student)


def gate_score(name: str, evidence: Path, locked_test: Path | None, student: str | None,
               student_gate: str | None = "reproducibility") -> GateResult:
    """The validator's verdict on one gate, with the copied-packet check folded into `student_gate` (the spec's
    student_id_gate)."""
    result = check_gate(name, evidence, locked_test)
    problem = _student_problem(evidence, student) if name == student_gate else None
    if problem:
        result = replace(result, passed=False, score=0.0, failures=[*result.failures, problem])
    return result


def trusted_gates(course: Path, assignment: str, folder: Path, student: str) -> dict[str, GateResult]:
    """grade_id -> GateResult for every gate of a lab submission folder (empty when not a lab)."""
    spec = lab_spec(assignment)
    if spec is None:
        return {}
    locked = course / "source" / assignment / spec["locked_test"]
    evidence = folder / spec["evidence"]
    if not folder.is_dir():
        why = "this submission was not autograded (see the autograde command's SKIPPED lines)"
        return {f"gate_{g}": GateResult(g, False, 0.0, [why]) for g in spec["gates"]}
    return {f"gate_{g}": gate_score(g, evidence, locked if locked.is_file() else None, student,
                                    spec["student_id_gate"]) for g in spec["gates"]}


def _packets(course: Path, assignment: str, students: list[str]) -> dict[str, Path]:
    """student -> their autograded packet section (the spec's evidence folder; plain folders only)."""
    evidence = (lab_spec(assignment) or {}).get("evidence", "evidence")
    packets = {s: course / "autograded" / s / assignment / evidence for s in students}
    return {s: p for s, p in packets.items() if p.is_dir() and not p.is_symlink()}


def copied_packets(course: Path, assignment: str, students: list[str]) -> dict[str, list[str]]:
    """student -> the other students whose autograded packet shares a run file with theirs."""
    return integrity.find_copies(_packets(course, assignment, students), assignment)


def near_copies(course: Path, assignment: str, students: list[str]) -> dict[str, list[str]]:
    """student -> the other students whose autograded packet has the same run rhythm (times shifted, id changed)."""
    return integrity.find_near_copies(_packets(course, assignment, students), assignment)


def similar_writing(course: Path, assignment: str, students: list[str]) -> dict[str, dict[str, float]]:
    """student -> {other student: similarity} whose autograded packets' failure explanations are near-identical."""
    return integrity.find_similar_writing(_packets(course, assignment, students))
