"""Student side: check your work the way the grader will (public tests only), then export the upload.

Locally or in a Colab terminal cell (prefix with `!`):

    python -m assessments.student check assessments/release/ch04_quiz/ch04_quiz.ipynb
    python -m assessments.student check labs/lab1_qlora_sft.ipynb          # also validates labs/evidence/
    python -m assessments.student check labs/lab2_preference_alignment.ipynb   # ... and labs/evidence/lab2/
    python -m assessments.student export labs/lab1_qlora_sft.ipynb --student s1234567
        -> lab1-s1234567.zip: the notebook, evidence/ and submission_manifest.json (sha256 of every file)

Inside a notebook (Colab included): `from assessments.student import check_packet; check_packet()`.
`check` runs the notebook headless in its own folder with NBGRADER_EXECUTION=validate (the lab then loads its
evidence instead of training) and reports every graded cell; hidden tests are not in your copy, so a pass here
is necessary, not sufficient.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbgrader.utils import determine_grade

from assessments.collect import clean_notebook_name
from assessments.integrity import manifest_student
from workbook.core.io import sha256_bytes

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LAB_NOTEBOOKS = {"lab1_qlora_sft": "lab1", "lab2_preference_alignment": "lab2",
                 "lab3_ship_and_rollback": "lab3"}  # notebook stem -> assignment
EVIDENCE_DIR = "evidence"
SUBMISSION_MANIFEST = "submission_manifest.json"


@dataclass
class CellCheck:
    grade_id: str
    points: float
    score: float
    message: str


def assignment_of(notebook: Path) -> str:
    """The assignment a notebook belongs to, from its file name ('Copy of ...' tolerated)."""
    stem = Path(clean_notebook_name(notebook.name)).stem
    if stem in LAB_NOTEBOOKS:
        return LAB_NOTEBOOKS[stem]
    if re.fullmatch(r"ch\d\d_quiz", stem):
        return stem
    raise ValueError(f"{notebook.name}: not a course assignment (expected chNN_quiz.ipynb or "
                     f"{', '.join(n + '.ipynb' for n in LAB_NOTEBOOKS)}).")


def cell_check(cell) -> CellCheck:
    """An executed graded cell's score by the grader's rule: errors first (assessments.isolation.errors_first), then
    nbgrader's own `determine_grade`, and why."""
    from assessments.isolation import errors_first

    cell.outputs = errors_first(list(cell.outputs))
    score, points = determine_grade(cell)
    message = "passed" if score >= points else "partial credit"
    for output in cell.outputs:
        if output.output_type == "error":
            message = f"{output.ename}: {output.evalue}".strip(": ")
        elif output.output_type == "stream" and output.name == "stderr":
            message = "wrote to stderr: " + (output.text.strip().splitlines() or [""])[-1][:200]
    return CellCheck(cell.metadata["nbgrader"]["grade_id"], points, float(score), message)


def score_notebook(nb: nbformat.NotebookNode) -> list[CellCheck]:
    """The checks of every graded test cell of an executed notebook."""
    return [cell_check(cell) for cell in nb.cells if cell.cell_type == "code"
            and cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution")]


def execute(notebook: Path, timeout: int = 120) -> nbformat.NotebookNode:
    """The notebook executed headless in its own folder, as a grader would (NBGRADER_EXECUTION=validate)."""
    from workbook.core.notebook_runner import SteadyClient  # nbclient, minus its missed-reply stalls

    nb = nbformat.read(notebook, as_version=4)
    previous = os.environ.get("NBGRADER_EXECUTION")
    os.environ["NBGRADER_EXECUTION"] = "validate"
    try:
        SteadyClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                     resources={"metadata": {"path": str(notebook.parent.resolve())}}).execute()
    finally:
        if previous is None:
            os.environ.pop("NBGRADER_EXECUTION", None)
        else:
            os.environ["NBGRADER_EXECUTION"] = previous
    return nb


def check_packet(evidence_dir: str | Path = EVIDENCE_DIR, locked_test_path: str | Path | None = None,
                 lab: str = "lab1") -> bool:
    """Print the lab validator's report for one lab's section of an evidence folder; True when every gate passes."""
    from workbook.evidence.gates import validate_packet
    from workbook.evidence.report import format_report

    results = validate_packet(Path(evidence_dir), locked_test_path, lab=lab)
    print(format_report(results))
    return all(r.passed for r in results.values())


def check(notebook: Path) -> bool:
    """The self-check: public graded cells of the notebook, plus the evidence packet for a lab."""
    assignment = assignment_of(notebook)
    ok = True
    if assignment in LAB_NOTEBOOKS.values():
        print(f"== evidence packet: {notebook.parent / EVIDENCE_DIR} ({assignment})")
        ok = check_packet(notebook.parent / EVIDENCE_DIR, lab=assignment)
    checks = score_notebook(execute(notebook))
    if not checks:
        print(f"{notebook.name} has no graded cells: open the released copy (assessments/release/{assignment}/).")
    print(f"== graded cells of {notebook.name} (visible tests only)")
    for item in checks:
        mark = "ok  " if item.score >= item.points else "FAIL"
        print(f"{mark} {item.grade_id}: {item.score:g}/{item.points:g}  {item.message}")
    return ok and all(item.score >= item.points for item in checks)


def _colab_notebook() -> dict | None:
    """The notebook open in Colab, fetched from the front end (Colab keeps it in Drive, not on local disk)."""
    if "google.colab" not in sys.modules:
        return None
    from google.colab import _message  # type: ignore[import-not-found]

    return _message.blocking_request("get_ipynb", request="", timeout_sec=60)["ipynb"]


def export(notebook: Path | None, student_id: str, out_dir: Path = Path("."), name: str | None = None) -> Path:
    """Zip the notebook (and a lab's evidence/) with a sha256 manifest as <assignment>-<student_id>.zip."""
    if not STUDENT_ID.match(student_id):
        raise ValueError(f"student id {student_id!r}: use letters, digits, '.', '_' or '-' (up to 64), no spaces.")
    if notebook is None:
        content = _colab_notebook()
        if content is None or not name:
            raise ValueError("Give the notebook path (outside Colab), or name= the notebook file in Colab.")
        notebook_name, folder = name, Path.cwd()
        data = (json.dumps(content, indent=1) + "\n").encode()
    else:
        notebook_name, folder, data = notebook.name, notebook.parent, notebook.read_bytes()
    notebook_name = clean_notebook_name(notebook_name)
    assignment = assignment_of(Path(notebook_name))
    files = {notebook_name: data}
    if assignment in LAB_NOTEBOOKS.values():
        evidence = folder / EVIDENCE_DIR
        if not evidence.is_dir():
            raise ValueError(f"No {evidence}: run the lab to the end first; it writes the evidence packet there.")
        for path in sorted(p for p in evidence.rglob("*") if p.is_file()):
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
        _warn_student_mismatch(evidence if assignment == "lab1" else evidence / assignment, student_id)
    manifest = {
        "assignment": assignment,
        "student_id": student_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": {rel: sha256_bytes(blob) for rel, blob in files.items()},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{assignment}-{student_id}.zip"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel, blob in files.items():
            archive.writestr(rel, blob)
        archive.writestr(SUBMISSION_MANIFEST, json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {target} ({len(files)} files + {SUBMISSION_MANIFEST}); upload this file unchanged.")
    return target


def _warn_student_mismatch(evidence: Path, student_id: str) -> None:
    recorded = manifest_student(evidence)
    if recorded not in (None, student_id):
        print(f"WARNING: {evidence.name}/manifest.json records student_id={recorded!r}, not {student_id!r}; the grader "
              "compares them. Re-run the lab with your own id (WORKBOOK_STUDENT_ID) if this packet is yours.")


def verify_upload(zip_path: Path) -> list[str]:
    """Files in an exported upload whose sha256 differs from its manifest (empty when intact)."""
    with zipfile.ZipFile(zip_path) as archive:
        manifest = json.loads(archive.read(SUBMISSION_MANIFEST))
        return [rel for rel, digest in manifest["files"].items()
                if sha256_bytes(archive.read(rel)) != digest]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m assessments.student", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="run the public tests (and the evidence validator for a lab)")
    p.add_argument("notebook", type=Path)
    p = sub.add_parser("export", help="zip the notebook (+ evidence/) with a sha256 manifest for upload")
    p.add_argument("notebook", type=Path)
    p.add_argument("--student", required=True, help="your student id, as your instructor gave it")
    p.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return 0 if check(args.notebook) else 1
        export(args.notebook, args.student, args.out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
