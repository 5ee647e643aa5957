"""The assignment specs, loaded and validated: quizzes/<assignment>.yaml and labs/<assignment>.yaml.

A malformed spec raises `SpecError` naming the file and the field, before anything is built or graded.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
QUIZZES = HERE / "quizzes"
LABS = HERE / "labs"
QUESTION_KINDS = ("numeric", "code", "choice")
QUIZ_FIELDS = ("assignment", "title", "intro", "questions")
QUESTION_FIELDS = ("id", "kind", "points", "prompt", "solution", "tests", "hidden")
LAB_FIELDS = ("assignment", "notebook", "locked_test", "gates_intro", "gates")


class SpecError(ValueError):
    """A quiz or lab spec is malformed; the message names the file and the field."""


def _load(path: Path, required: tuple[str, ...]) -> dict:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc}).") from exc
    if not isinstance(spec, dict):
        raise SpecError(f"{path}: must be a mapping of fields.")
    missing = [key for key in required if key not in spec]
    if missing:
        raise SpecError(f"{path}: missing top-level field(s) {missing}.")
    if spec["assignment"] != path.stem:
        raise SpecError(f"{path}: assignment '{spec['assignment']}' must match the file name '{path.stem}'.")
    return spec


def _points(value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SpecError(f"{where}: points must be a positive number, not {value!r}.")


def load_quiz(path: Path) -> dict:
    """A quiz spec: every question has all its fields, a known kind, positive points and a unique id."""
    spec = _load(path, QUIZ_FIELDS)
    if not isinstance(spec["questions"], list) or not spec["questions"]:
        raise SpecError(f"{path}: questions must be a non-empty list.")
    seen: set[str] = set()
    for number, q in enumerate(spec["questions"], 1):
        where = f"{path}: question {number}"
        if not isinstance(q, dict):
            raise SpecError(f"{where}: must be a mapping of fields.")
        for key in QUESTION_FIELDS:
            if key not in q:
                raise SpecError(f"{where}: missing field '{key}'.")
        if q["kind"] not in QUESTION_KINDS:
            raise SpecError(f"{where}: kind '{q['kind']}' is not one of {QUESTION_KINDS}.")
        _points(q["points"], where)
        if q["id"] in seen:
            raise SpecError(f"{where}: duplicate id '{q['id']}'.")
        seen.add(q["id"])
    return spec


def load_lab(path: Path) -> dict:
    """A lab spec: points per gate, the files to ship (rel -> repository path), the open cells' markers, the evidence
    folder the gate cells read (default `evidence`) and the gate that carries the hidden student-id check."""
    spec = _load(path, LAB_FIELDS)
    if not isinstance(spec["gates"], dict) or not spec["gates"]:
        raise SpecError(f"{path}: gates must map each gate name to its points.")
    for gate, points in spec["gates"].items():
        _points(points, f"{path}: gate '{gate}'")
    if not isinstance(spec.setdefault("files", {}), dict):
        raise SpecError(f"{path}: files must map a path in the assignment to a path in the repository.")
    markers = spec.setdefault("student_cells_containing", [])
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        raise SpecError(f"{path}: student_cells_containing must be a list of strings.")
    evidence = spec.setdefault("evidence", "evidence")
    if not isinstance(evidence, str) or not evidence or evidence.startswith("/") or ".." in evidence.split("/"):
        raise SpecError(f"{path}: evidence must be a folder inside the assignment (e.g. evidence/lab2), "
                        f"not {evidence!r}.")
    gate = spec.setdefault("student_id_gate", None)
    if gate is not None and gate not in spec["gates"]:
        raise SpecError(f"{path}: student_id_gate {gate!r} must be one of the lab's gates.")
    return spec


def quiz_specs() -> list[Path]:
    return sorted(QUIZZES.glob("*.yaml"))


def lab_specs() -> list[Path]:
    return sorted(LABS.glob("*.yaml"))


def lab_spec(assignment: str) -> dict | None:
    """The validated spec of a lab assignment, or None when the assignment is not a lab."""
    path = LABS / f"{assignment}.yaml"
    return load_lab(path) if path.is_file() else None
