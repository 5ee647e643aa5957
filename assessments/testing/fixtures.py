"""Simulated quiz submissions (answer key, stubs, hostile code), scratch nbgrader courses and upload zips.

Shared by the assessment tests and the autograde benchmark; lab evidence packets are in `simulate`.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import nbformat

from assessments import sandbox

ASSESSMENTS = Path(__file__).resolve().parents[1]


def sandbox_ready() -> bool:
    try:
        sandbox.check_available()
        return True
    except sandbox.SandboxUnavailable:
        return False


def scratch_course(root: Path, assignments: list[str]) -> Path:
    """A course folder holding only the config and the named assignments' source and release."""
    course = root / "course"
    course.mkdir(parents=True)
    shutil.copy(ASSESSMENTS / "nbgrader_config.py", course)
    for name in assignments:
        shutil.copytree(ASSESSMENTS / "source" / name, course / "source" / name)
        shutil.copytree(ASSESSMENTS / "release" / name, course / "release" / name)
    return course


def answer_key(assignment: str) -> dict[str, str]:
    """grade_id -> the instructor's answer source for every answer cell of a quiz."""
    nb = nbformat.read(ASSESSMENTS / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get(
        "solution")}


def quiz_submission(assignment: str, answers: dict[str, str] | None = None, delete: tuple[str, ...] = (),
                    edit: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The released quiz with answers filled in (the key unless overridden), cells deleted or edited."""
    nb = nbformat.read(ASSESSMENTS / "release" / assignment / f"{assignment}.ipynb", as_version=4)
    filled = {**answer_key(assignment), **(answers or {})}
    cells = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in delete:
            continue
        if gid in filled and cell.metadata["nbgrader"].get("solution"):
            cell.source = filled[gid]
        if gid in (edit or {}):
            cell.source = edit[gid]
        cells.append(cell)
    nb.cells = cells
    return nb


def zip_upload(folder: Path, assignment: str, student: str, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{assignment}-{student}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def notebook_bytes(nb: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(nb).encode()


HOSTILE = r'''
import json, os, socket, urllib.request
targets = json.loads({targets!r})
report = {{"read": {{}}, "write": {{}}, "net": {{}}, "env": sorted(os.environ)}}
for label, path in targets["read"].items():
    try:
        with open(path, "rb") as fh:
            report["read"][label] = "READ %d bytes" % len(fh.read())
    except OSError as exc:
        report["read"][label] = "denied: " + type(exc).__name__
for label, path in targets["write"].items():
    try:
        with open(path, "w") as fh:
            fh.write("mallory was here")
        report["write"][label] = "WROTE"
    except OSError as exc:
        report["write"][label] = "denied: " + type(exc).__name__
for label, addr in [("tcp 1.1.1.1:53", ("1.1.1.1", 53)), ("tcp 8.8.8.8:443", ("8.8.8.8", 443))]:
    try:
        socket.create_connection(addr, timeout=3).close()
        report["net"][label] = "CONNECTED"
    except OSError as exc:
        report["net"][label] = "denied: " + type(exc).__name__
try:
    urllib.request.urlopen("http://example.com", timeout=3)
    report["net"]["http example.com"] = "CONNECTED"
except Exception as exc:
    report["net"]["http example.com"] = "denied: " + type(exc).__name__
report["visible_root"] = sorted(os.listdir("/"))
with open("hostile_report.json", "w") as fh:  # its own folder: allowed
    json.dump(report, fh, indent=1)
print(json.dumps(report, indent=1))
fp32_mb = SMOL_PARAMS * 4 / 1e6
'''

# A student cell that rewrites later cells in its own kernel (not preventable inside one kernel): flagged.
KERNEL_HOOK = '''answer_t4 = "a"
get_ipython().input_transformers_post.append(lambda lines: [] if any("answer_t4 ==" in l for l in lines) else lines)
'''


def hostile_targets(course: Path, repo: Path, marker: str) -> str:
    auto = course / "autograded" / "mallory" / "ch00_quiz"
    return json.dumps({
        "read": {
            "source notebook (solutions)": str(course / "source/ch00_quiz/ch00_quiz.ipynb"),
            "repo source notebook": str(repo / "assessments/source/ch00_quiz/ch00_quiz.ipynb"),
            "gradebook.db": str(course / "gradebook.db"),
            "hidden tests: own sanitised notebook": "ch00_quiz.ipynb",
            "hidden tests: host path of it": str(auto / "ch00_quiz.ipynb"),
            "another student's submission": str(course / "submitted/alice/ch00_quiz/ch00_quiz.ipynb"),
            "host /etc/shadow": "/etc/shadow",
            "host home": "/root/.bash_history",
        },
        "write": {
            "course folder": str(course / "hacked.txt"),
            "repository": str(repo / f"hacked-{marker}.txt"),
            "host /tmp": f"/tmp/hostile-{marker}.txt",
            "release folder": str(course / "release/ch00_quiz/hacked.txt"),
            "helpers (read-only mount)": "/workbook/helpers/hacked.py",
        },
    })
