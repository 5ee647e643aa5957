"""Instructor commands, one per step (run from the repository root):

    python -m assessments.cli release                      # build source/ from the specs, generate release/
    python -m assessments.cli collect lab1 UPLOADS_DIR     # student zips -> submitted/<student>/lab1/
    python -m assessments.cli autograde lab1               # grade every submission, each kernel sandboxed
    python -m assessments.cli feedback lab1                # feedback HTML, hidden tests stripped
    python -m assessments.cli export                       # grades per gate/question -> exports/grades.{csv,json}
    python -m assessments.cli check                        # exit 1 if source/ or release/ is stale

Each wraps nbgrader (run in assessments/ so it reads nbgrader_config.py) plus the course's own safety steps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


def collect(assignment: str, uploads: Path, course: Path = HERE) -> None:
    """Copy the uploads into downloaded/<assignment>/archive and run nbgrader zip_collect."""
    archive = course / "downloaded" / assignment / "archive"
    if archive.exists():
        shutil.rmtree(archive)
    archive.mkdir(parents=True)
    zips = sorted(uploads.glob("*.zip"))
    if not zips:
        raise SystemExit(f"No .zip uploads in {uploads}: expected files named <assignment>-<student_id>.zip.")
    for upload in zips:
        shutil.copy(upload, archive / upload.name)
    result = nbgrader("zip_collect", assignment, "--force", course=course, check=False)
    problems = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    for line in problems:
        print(line)
    collected = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}"))
    print(f"collected {assignment} for {len(collected)} students: {', '.join(collected)}")


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


def normalise_submissions(assignment: str, course: Path = HERE) -> None:
    """Rename 'Copy of X.ipynb' (dropped in by hand rather than collected) back to the released name."""
    from assessments.collect import clean_notebook_name

    for folder in (course / "submitted").glob(f"*/{assignment}"):
        for nb in folder.glob("*.ipynb"):
            clean = folder / clean_notebook_name(nb.name)
            if clean != nb and not clean.exists():
                nb.rename(clean)


def autograde(assignment: str, student: str | None = None, course: Path = HERE, timeout: int | None = None):
    """Autograde submissions of one assignment; every kernel runs in the bubblewrap sandbox."""
    from assessments.sandbox import check_available

    check_available()
    ensure_in_gradebook(assignment, course)
    normalise_submissions(assignment, course)
    args = ["autograde", assignment, "--force"]
    if student:
        args += ["--student", student]
    env = {"WORKBOOK_CELL_TIMEOUT": str(timeout)} if timeout else None
    result = nbgrader(*args, course=course, check=False, extra_env=env)
    if result.returncode != 0 and "ERROR" not in result.stderr:
        raise SystemExit(f"nbgrader autograde failed:\n{result.stderr[-4000:]}")
    failed = [line for line in result.stderr.splitlines() if "ERROR" in line]
    for line in failed:
        print(line)
    done = sorted(p.parent.name for p in (course / "autograded").glob(f"*/{assignment}"))
    print(f"autograded {assignment}: {len(done)} submissions")
    return result


def feedback(assignment: str, course: Path = HERE) -> list[Path]:
    nbgrader("generate_feedback", assignment, "--force", course=course)
    pages = sorted((course / "feedback").glob(f"*/{assignment}/*.html"))
    print(f"feedback: {len(pages)} HTML files under {course / 'feedback'}")
    return pages


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
        collect(args.assignment, args.uploads)
    elif args.command == "autograde":
        autograde(args.assignment, args.student, timeout=args.timeout)
    elif args.command == "feedback":
        feedback(args.assignment)
    elif args.command == "export":
        from assessments.export import export

        paths = export(out=args.out)
        print("wrote " + ", ".join(str(p) for p in paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
