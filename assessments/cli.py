"""Instructor commands, one per step (run from the repository root):

    python -m assessments.cli release                      # build source/ from the specs, generate release/
    python -m assessments.cli collect lab1 UPLOADS_DIR     # student zips -> submitted/<student>/lab1/
    python -m assessments.cli autograde lab1               # grade every submission, each kernel sandboxed
    python -m assessments.cli feedback lab1                # feedback HTML, hidden tests stripped
    python -m assessments.cli export                       # grades per gate/question -> exports/grades.{csv,json}
    python -m assessments.cli report                       # exports/report.html + CSVs: marks, flagged submissions
    python -m assessments.cli check                        # exit 1 if source/ or release/ is stale

Each wraps nbgrader (run in assessments/ so it reads nbgrader_config.py) plus the course's own safety steps.
collect, autograde, feedback and export process everyone they can, then name every student (or upload) they
skipped and why, and exit with status 1 when anyone was skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assessments.outcome import Outcome, error_lines

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def nbgrader(*args: str, course: Path = HERE, check: bool = True, extra_env: dict | None = None):
    """Run one nbgrader command in the course folder, with the venv's tools (alembic) on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}".rstrip(os.pathsep)
    env["WORKBOOK_COURSE_ROOT"] = str(course)
    env.update(extra_env or {})
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    return result


def assignments(course: Path = HERE) -> list[str]:
    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir())


def release(course: Path = HERE, build: bool = True) -> list[str]:
    """Rebuild source/ from the specs (unless build=False), then generate the student release of everything."""
    from assessments import build as builder

    if build:
        builder.main([])
    nbgrader("generate_assignment", "*", "--force", course=course)
    names = assignments(course)
    print(f"released {len(names)} assignments into {course / 'release'}: {', '.join(names)}")
    return names


def release_is_stale() -> list[str]:
    """Files under release/ that a fresh generate_assignment would change (built in a temporary course)."""
    from assessments.build import diff_trees, stale_paths

    stale = [f"source/{p}" for p in stale_paths()]
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copy(HERE / "nbgrader_config.py", course)
        shutil.copytree(HERE / "source", course / "source")
        nbgrader("generate_assignment", "*", "--force", course=course)
        stale += [f"release/{p}" for p in diff_trees(course / "release", HERE / "release")]
    return stale


def collect(assignment: str, uploads: Path, course: Path = HERE) -> Outcome:
    """Copy the uploads into downloaded/<assignment>/archive and run nbgrader zip_collect; name every upload skipped."""
    from assessments.collect import REJECTED, UPLOAD_NAME

    archive = course / "downloaded" / assignment / "archive"
    shutil.rmtree(course / "downloaded" / assignment, ignore_errors=True)
    archive.mkdir(parents=True)
    zips = sorted(p for p in uploads.glob("*.zip") if p.is_file() and not p.is_symlink())
    if not zips:
        raise SystemExit(f"No .zip uploads in {uploads}: expected files named <assignment>-<student_id>.zip.")
    outcome = Outcome(f"collect {assignment}")
    expected: dict[str, str] = {}  # student -> upload
    for upload in zips:
        match = UPLOAD_NAME.match(upload.name)
        if not match:
            outcome.skipped[upload.name] = "not named <assignment>-<student_id>.zip"
        elif match["assignment"] != assignment:
            outcome.skipped[upload.name] = f"an upload for {match['assignment']}, not {assignment}"
        else:
            expected[match["student_id"]] = upload.name
            shutil.copy(upload, archive / upload.name)
    result = nbgrader("zip_collect", assignment, "--force", course=course, check=False)
    outcome.log = result.stderr
    for line in result.stderr.splitlines():
        if "WARNING" in line or "ERROR" in line:
            print(line)
    rejected_path = course / "downloaded" / assignment / REJECTED
    rejected = json.loads(rejected_path.read_text(encoding="utf-8")) if rejected_path.is_file() else {}
    collected = {p.parent.name for p in (course / "submitted").glob(f"*/{assignment}")}
    for student, upload in sorted(expected.items()):
        if student in collected:
            outcome.done.append(student)
        elif upload in rejected:
            outcome.skipped[upload] = rejected[upload]
        elif result.returncode != 0:
            outcome.skipped[upload] = f"nbgrader zip_collect failed: {error_lines(result.stderr)}"
        else:
            outcome.skipped[upload] = "no notebook or evidence file was collected from it"
    print(f"collected {assignment} for {len(outcome.done)} students: {', '.join(outcome.done)}")
    outcome.report()
    return outcome


def ensure_in_gradebook(assignment: str, course: Path = HERE) -> None:
    """A fresh clone has no gradebook.db: record the assignment (and its hidden tests) from source/ first."""
    from nbgrader.api import Gradebook, MissingEntry

    if (course / "gradebook.db").exists():
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "post-training-workbook") as gb:
            try:
                gb.find_assignment(assignment)
                return
            except MissingEntry:
                pass
    nbgrader("generate_assignment", assignment, "--force", course=course)


def _release_notebooks(assignment: str, course: Path) -> set[str]:
    return {p.name for p in (course / "release" / assignment).glob("*.ipynb")}


def sanitize_folder(folder: Path, notebooks: set[str]) -> list[str]:
    """Remove from a student's folder everything that is not a plain file or folder, and every notebook not in the
    release (lstat only: nothing is followed). Returns what was removed."""
    removed = []
    for top, dirs, files in os.walk(folder, topdown=True):
        for name in list(dirs) + files:
            path = Path(top) / name
            mode = os.lstat(path).st_mode
            extra_notebook = stat.S_ISREG(mode) and name.endswith(".ipynb") and (
                Path(top) != folder or name not in notebooks)
            if stat.S_ISDIR(mode) or (stat.S_ISREG(mode) and not extra_notebook):
                continue
            if name in dirs:
                dirs.remove(name)
            path.unlink()
            removed.append(path.relative_to(folder).as_posix())
    return removed


def normalise_submissions(assignment: str, course: Path = HERE) -> list[str]:
    """Rename 'Copy of X.ipynb' back to the released name; drop links, pipes and notebooks that are not the
    assignment's. Returns notes on what was changed."""
    from assessments.collect import clean_notebook_name

    notebooks, notes = _release_notebooks(assignment, course), []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        for nb in sorted(folder.glob("*.ipynb")):
            clean = folder / clean_notebook_name(nb.name)
            if clean != nb and not clean.exists() and not nb.is_symlink():
                nb.rename(clean)
        removed = sanitize_folder(folder, notebooks)
        if removed:
            notes.append(f"{folder.parent.name}: removed {', '.join(removed[:5])} (not a plain file of the assignment)")
    return notes


def submitted_students(assignment: str, course: Path = HERE) -> list[str]:
    return sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}") if p.is_dir())


def _graded_since(assignment: str, students: list[str], course: Path, since: float, kind: str) -> set[str]:
    """Students whose every notebook was (re)written by nbgrader after `since` (autograded/ or feedback/)."""
    names = [Path(n) for n in _release_notebooks(assignment, course)]
    suffix = ".ipynb" if kind == "autograded" else ".html"
    done = set()
    for student in students:
        outputs = [course / kind / student / assignment / n.with_suffix(suffix).name for n in names]
        if names and all(p.is_file() and p.stat().st_mtime >= since for p in outputs):
            done.add(student)
    return done


def _per_student(command: str, assignment: str, students: list[str], course: Path, kind: str,
                 extra_env: dict | None = None, only: str | None = None) -> Outcome:
    """Run an nbgrader command for everyone (or `only` one student), then once more for each student it missed;
    skip who still fails, with nbgrader's reason."""
    outcome = Outcome(f"{command} {assignment}")
    since = time.time() - 1
    first = ["--student", only] if only else []
    result = nbgrader(command, assignment, "--force", *first, course=course, check=False, extra_env=extra_env)
    logs = [result.stderr]
    done = _graded_since(assignment, students, course, since, kind)
    for student in [s for s in students if s not in done]:
        again = nbgrader(command, assignment, "--force", "--student", student, course=course, check=False,
                         extra_env=extra_env)
        logs.append(again.stderr)
        if student in _graded_since(assignment, [student], course, since, kind):
            done.add(student)
        else:
            outcome.skipped[student] = error_lines(again.stderr)
    outcome.done = sorted(done)
    outcome.log = "\n".join(logs)
    return outcome


def autograde(assignment: str, student: str | None = None, course: Path = HERE, timeout: int | None = None) -> Outcome:
    """Autograde submissions of one assignment; every kernel runs in the bubblewrap sandbox."""
    from assessments.sandbox import check_available

    check_available()
    ensure_in_gradebook(assignment, course)
    notes = normalise_submissions(assignment, course)
    students = [s for s in submitted_students(assignment, course) if student in (None, s)]
    if student and not students:
        raise SystemExit(f"No submission of {assignment} from {student} under {course / 'submitted'}.")
    env = {"WORKBOOK_CELL_TIMEOUT": str(timeout)} if timeout else None
    expected = sorted(_release_notebooks(assignment, course))
    lacking = {s for s in students if not any((course / "submitted" / s / assignment / n).is_file() for n in expected)}
    outcome = _per_student("autograde", assignment, students, course, "autograded", env, only=student)
    outcome.notes = notes
    for who in lacking & set(outcome.skipped):
        outcome.skipped[who] = (f"the submission holds no {' or '.join(expected)} (a notebook under another name "
                                "is not graded: see the notes above)")
    for line in outcome.log.splitlines():
        if "ERROR" in line:
            print(line)
    print(f"autograded {assignment}: {len(outcome.done)} submissions")
    outcome.report()
    return outcome


def feedback(assignment: str, course: Path = HERE) -> Outcome:
    """Feedback HTML for every autograded submission (their folders sanitised first)."""
    notebooks = _release_notebooks(assignment, course)
    students = sorted(p.parent.name for p in (course / "autograded").glob(f"*/{assignment}") if p.is_dir())
    notes = []
    for student in students:
        removed = sanitize_folder(course / "autograded" / student / assignment, notebooks)
        if removed:
            notes.append(f"{student}: removed {', '.join(removed[:5])} from the autograded folder")
    outcome = _per_student("generate_feedback", assignment, students, course, "feedback")
    outcome.notes = notes
    pages = sorted((course / "feedback").glob(f"*/{assignment}/*.html"))
    print(f"feedback: {len(pages)} HTML files under {course / 'feedback'}")
    outcome.report()
    return outcome


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m assessments.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("release", help="build source/ from the specs and generate release/")
    sub.add_parser("check", help="exit 1 if source/ or release/ is out of date")
    p = sub.add_parser("collect", help="collect a folder of <assignment>-<student>.zip uploads")
    p.add_argument("assignment")
    p.add_argument("uploads", type=Path)
    p = sub.add_parser("autograde", help="autograde all submissions of an assignment (sandboxed)")
    p.add_argument("assignment")
    p.add_argument("--student")
    p.add_argument("--timeout", type=int, help="seconds per cell before it is interrupted (default 60)")
    p = sub.add_parser("feedback", help="feedback HTML with hidden tests stripped")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="grades per gate and question to CSV and JSON")
    p.add_argument("--out", type=Path, default=HERE / "exports")
    p = sub.add_parser("report", help="class report (after export): mark distributions and flagged submissions")
    p.add_argument("--exports", type=Path, default=HERE / "exports")
    args = parser.parse_args(argv)

    if args.command == "release":
        release()
    elif args.command == "check":
        stale = release_is_stale()
        for path in stale:
            print(f"stale: assessments/{path}")
        if stale:
            print("Run `python -m assessments.cli release` and commit source/ and release/.")
        return 1 if stale else 0
    elif args.command == "collect":
        return 1 if collect(args.assignment, args.uploads).skipped else 0
    elif args.command == "autograde":
        return 1 if autograde(args.assignment, args.student, timeout=args.timeout).skipped else 0
    elif args.command == "feedback":
        return 1 if feedback(args.assignment).skipped else 0
    elif args.command == "export":
        from assessments.export import export_outcome

        outcome = export_outcome(out=args.out)
        print("wrote " + ", ".join(str(p) for p in outcome.paths))
        outcome.report()
        return 1 if outcome.skipped else 0
    elif args.command == "report":
        from assessments.report import write_report

        print("wrote " + ", ".join(str(p) for p in write_report(args.exports)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
