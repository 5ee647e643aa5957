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

# A student cell that leaves traps for the trusted steps after its kernel exits (links to the grader's files, a
# FIFO, an extra notebook, a folder link), fills its disk and spawns processes, and reports what the sandbox
# showed it of the host. Nothing it writes may reach the autograded folder.
LEFTOVERS = r'''
import json, os, subprocess
targets = json.loads({targets!r})
report = {{"links": {{}}, "proc": {{}}}}
for name, path in targets.items():
    try:
        os.symlink(path, name)
        report["links"][name] = "made"
    except OSError as exc:
        report["links"][name] = "denied: " + type(exc).__name__
os.mkfifo("pipe.txt")
os.makedirs("evidence", exist_ok=True)
os.mkfifo("evidence/manifest.json")
with open("extra.ipynb", "w") as fh:
    fh.write("{{}}")
for name in ("/proc/1/cmdline", "/proc/self/mountinfo"):
    with open(name, "rb") as fh:
        report["proc"][name] = fh.read().decode(errors="replace")
written = 0
try:
    with open("fill.bin", "wb") as fh:
        for _ in range(64):
            fh.write(b"x" * 2**20)
            fh.flush()
            written += 1
    report["disk"] = "wrote %d MiB" % written
except OSError as exc:
    report["disk"] = "stopped after %d MiB: %s" % (written, type(exc).__name__)
children = []
try:
    for _ in range(80):
        children.append(subprocess.Popen(["sleep", "30"]))
    report["pids"] = "spawned %d" % len(children)
except OSError as exc:
    report["pids"] = "stopped after %d: %s" % (len(children), type(exc).__name__)
for child in children:
    child.kill()
    child.wait()
print("LEFTOVERS " + json.dumps(report))
fp32_mb = SMOL_PARAMS * 4 / 1e6
'''


def leftover_targets(course: Path, student: str = "alice", assignment: str = "ch00_quiz") -> str:
    """Names the LEFTOVERS cell links to the grader's files (what a kernel could learn from /proc)."""
    return json.dumps({
        "gradebook.db.json": str(course / "gradebook.db"),
        "solutions.json": str(course / "source" / assignment / f"{assignment}.ipynb"),
        "other_student": str(course / "submitted" / student / assignment),
        f"{assignment}_copy.ipynb": str(course / "submitted" / student / assignment / f"{assignment}.ipynb"),
    })


def metadata_edits(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Honest answers with the nbgrader metadata edits a student makes by accident (finding 7 of issue 14): a test
    cell copy-pasted with a schema version nbgrader refuses, a test cell's grade flag unmarked, another's grade id
    renamed, a graded cell of their own, and a cell without `source`."""
    import copy

    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    pasted = copy.deepcopy(tests[0])
    pasted.metadata["nbgrader"]["schema_version"] = 99
    nb.cells.insert(nb.cells.index(tests[0]) + 1, pasted)
    tests[1].metadata["nbgrader"]["grade"] = False
    tests[2].metadata["nbgrader"]["grade_id"] = "my_own_name"
    invented = nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": False, "points": 50, "grade_id": "bonus", "schema_version": 3}})
    invented.pop("id", None)
    nb.cells.append(invented)
    bare = nbformat.v4.new_markdown_cell("a note")
    bare.pop("id", None)
    del bare["source"]
    nb.cells.append(bare)
    return nb


# Wrong answers dressed to pass tests that run in the student's kernel (finding 3 of issue 14): a patched
# math.isclose, values whose __eq__ is always True, and an execute_result emitted before a test fails.
FALSE_PASSES = {
    "ch00_fp32_mb_answer": "import math\nmath.isclose = lambda *a, **k: True\nfp32_mb = 200.0",
    "ch00_bytes_fn_answer": ("def weight_bytes(n, dtype):\n"
                             "    get_ipython().displayhook(2.0)  # a full-marks result, shown before any test fails\n"
                             "    return n * 4 if dtype == 'fp32' else 0"),
    "ch00_tied_answer": ("class Always(int):\n    def __eq__(self, other):\n        return True\n"
                         "    __hash__ = int.__hash__\nuntied_extra = Always(5)"),
    "ch00_t4_answer": ("class Agree(str):\n    def __eq__(self, other):\n        return True\n"
                       "    def __hash__(self):\n        return hash('b')\nanswer_t4 = Agree('c')"),
}

# A submission that floods its output, then ignores SIGINT in a hanging cell (finding 6 of issue 14).
RUNAWAY = {
    "ch00_fp32_mb_answer": "print('x' * 2**20 * 6)\nfp32_mb = SMOL_PARAMS * 4 / 1e6",
    "ch00_bytes_fn_answer": "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(3600)",
}
