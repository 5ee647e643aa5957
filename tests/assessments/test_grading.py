"""Real nbgrader on a scratch course: collect zips, autograde in the sandbox, feedback, export.

One module-scoped run grades a handful of quiz submissions (honest, broken, hostile) so nbgrader and the
kernels start only once per student; the tests then read the results.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import IgnorePattern
from nbgrader.utils import determine_grade
from traitlets.config import Config

from assessments import cli, student
from assessments.build import REPO
from assessments.export import export
from assessments.testing.fixtures import (
    FALSE_PASSES,
    HOSTILE,
    KERNEL_HOOK,
    LEFTOVERS,
    RUNAWAY,
    hostile_targets,
    leftover_targets,
    metadata_edits,
    notebook_bytes,
    quiz_submission,
    sandbox_ready,
    scratch_course,
    zip_upload,
)

QUIZ = "ch00_quiz"
POINTS = {"ch00_fp32_mb_test": 1.0, "ch00_bytes_fn_test": 2.0, "ch00_tied_test": 1.0, "ch00_t4_test": 1.0}


pytestmark = pytest.mark.skipif(
    not sandbox_ready() and not os.environ.get("WORKBOOK_REQUIRE_SANDBOX"),
    reason="bubblewrap is not installed: `make assess-setup` (CI installs it and sets WORKBOOK_REQUIRE_SANDBOX=1)",
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    course = scratch_course(root, [QUIZ])
    marker = uuid.uuid4().hex[:8]
    uploads = root / "uploads"
    # alice: all correct, but the notebook inside her zip is Colab's "Copy of ..."
    zip_upload(uploads, QUIZ, "alice", {f"Copy of {QUIZ}.ipynb": notebook_bytes(quiz_submission(QUIZ))})
    # bob: one answer hangs, one raises, a test cell deleted, another test cell edited to `pass`
    bob = quiz_submission(
        QUIZ,
        answers={"ch00_fp32_mb_answer": "import time\ntime.sleep(3600)",
                 "ch00_bytes_fn_answer": "raise RuntimeError('not finished')",
                 "ch00_t4_answer": 'answer_t4 = "a"'},
        delete=("ch00_tied_test",),
        edit={"ch00_t4_test": "pass"},
    )
    zip_upload(uploads, QUIZ, "bob", {f"{QUIZ}.ipynb": notebook_bytes(bob)})
    # mallory: tries every forbidden thing, and hooks her kernel to skip a hidden test
    hostile = HOSTILE.format(targets=hostile_targets(course, REPO, marker))
    mallory = quiz_submission(QUIZ, answers={"ch00_fp32_mb_answer": hostile, "ch00_t4_answer": KERNEL_HOOK})
    zip_upload(uploads, QUIZ, "mallory", {f"{QUIZ}.ipynb": notebook_bytes(mallory)})
    # carol: exported with the student command
    path = root / "carol" / f"{QUIZ}.ipynb"
    path.parent.mkdir()
    nbformat.write(quiz_submission(QUIZ), path)
    student.export(path, "carol", uploads)
    # trudy: leaves links to the grader's files, FIFOs and an extra notebook behind, fills her disk, forks
    trudy = quiz_submission(QUIZ, answers={"ch00_fp32_mb_answer": LEFTOVERS.format(targets=leftover_targets(course))})
    zip_upload(uploads, QUIZ, "trudy", {f"{QUIZ}.ipynb": notebook_bytes(trudy)})
    # oscar: honest answers, but he copy-pasted a test cell (with a schema version nbgrader refuses), unmarked
    # another test cell's grade flag, renamed a third's grade id and invented a graded cell of his own
    zip_upload(uploads, QUIZ, "oscar", {f"{QUIZ}.ipynb": notebook_bytes(metadata_edits(quiz_submission(QUIZ)))})
    # frank: every answer wrong, each dressed to pass tests that run in his kernel
    zip_upload(uploads, QUIZ, "frank", {f"{QUIZ}.ipynb": notebook_bytes(quiz_submission(QUIZ, answers=FALSE_PASSES))})
    # sam: prints 6 MiB, then hangs in a cell that ignores SIGINT
    zip_upload(uploads, QUIZ, "sam", {f"{QUIZ}.ipynb": notebook_bytes(quiz_submission(QUIZ, answers=RUNAWAY))})
    # victor: his notebook is not JSON at all; he is skipped and named, the class is still graded
    zip_upload(uploads, QUIZ, "victor", {f"{QUIZ}.ipynb": b"\xff not a notebook"})
    # wendy: her notebook has another name, so there is nothing to grade
    zip_upload(uploads, QUIZ, "wendy", {"my answers.ipynb": notebook_bytes(quiz_submission(QUIZ))})
    # an unsafe upload, refused
    zip_upload(uploads, QUIZ, "eve", {"../../escape.ipynb": b"{}"})

    collected = cli.collect(QUIZ, uploads, course=course)
    cli.ensure_in_gradebook(QUIZ, course)
    modes = {p: os.stat(p).st_mode for p in (course / "gradebook.db", course / "source" / QUIZ / f"{QUIZ}.ipynb")}
    limits = {"WORKBOOK_CANARY_SECRET": marker, "WORKBOOK_KERNEL_DISK_MB": "24", "WORKBOOK_KERNEL_PIDS": "64",
              "WORKBOOK_OUTPUT_MB": "1"}
    os.environ.update(limits)
    try:
        result = cli.autograde(QUIZ, course=course, timeout=4)
    finally:
        for key in limits:
            os.environ.pop(key, None)
    fed = cli.feedback(QUIZ, course=course)
    exported = export(course=course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "post-training-workbook") as gb:
        scores = {s: {g.name: g.score for g in gb.find_submission_notebook(QUIZ, QUIZ, s).grades}
                  for s in ("alice", "bob", "mallory", "carol", "trudy", "oscar", "frank", "sam")}
    yield {"course": course, "scores": scores, "marker": marker, "log": result.stderr, "export": exported,
           "modes": modes, "outcomes": {"collect": collected, "autograde": result, "feedback": fed}}
    for leftover in (REPO / f"hacked-{marker}.txt", course / "hacked.txt"):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)


def test_honest_submissions_get_full_marks_including_a_copy_of_notebook(graded):
    assert graded["scores"]["alice"] == POINTS
    assert graded["scores"]["carol"] == POINTS


def test_unsafe_upload_is_refused_and_others_still_collected(graded):
    submitted = sorted(p.name for p in (graded["course"] / "submitted").iterdir())
    assert submitted == ["alice", "bob", "carol", "frank", "mallory", "oscar", "sam", "trudy", "victor", "wendy"]
    assert not (graded["course"].parent / "escape.ipynb").exists()
    assert set(graded["outcomes"]["collect"].skipped) == {f"{QUIZ}-eve.zip"}  # named, with the reason
    assert "leaving the folder" in graded["outcomes"]["collect"].skipped[f"{QUIZ}-eve.zip"]
    assert graded["outcomes"]["feedback"].skipped == {}


def test_autograde_grades_everyone_it_can_and_names_who_it_skipped(graded):
    outcome = graded["outcomes"]["autograde"]
    assert sorted(outcome.skipped) == ["victor", "wendy"] and outcome.skipped["victor"], outcome.skipped
    assert "holds no ch00_quiz.ipynb" in outcome.skipped["wendy"]
    assert sorted(outcome.done) == ["alice", "bob", "carol", "frank", "mallory", "oscar", "sam", "trudy"]


def test_hidden_tests_cannot_be_fooled_from_the_kernel(graded):
    """Patched math.isclose, always-equal values and an early full-marks result: every one scores 0."""
    assert graded["scores"]["frank"] == {item: 0 for item in POINTS}, graded["scores"]["frank"]
    page = (graded["course"] / "feedback/frank" / QUIZ / f"{QUIZ}.html").read_text()
    assert "538.06" not in page and "28311552" not in page and "WBV" not in page  # expected values stay hidden


def test_output_flood_and_a_kernel_ignoring_sigint_are_stopped_with_a_reason(graded):
    nb = nbformat.read(graded["course"] / "autograded/sam" / QUIZ / f"{QUIZ}.ipynb", as_version=4)
    texts = [o.get("text", "") + o.get("evalue", "") for c in nb.cells for o in c.get("outputs", [])]
    assert any("dropped" in t for t in texts) and sum(map(len, texts)) < 2**21  # 1 MiB budget, not 6 MiB
    assert any("ignored the interrupt" in t for t in texts), texts[-5:]
    scores = graded["scores"]["sam"]
    assert scores["ch00_fp32_mb_test"] == 1.0 and scores["ch00_bytes_fn_test"] == 0
    assert scores["ch00_tied_test"] == 0 and scores["ch00_t4_test"] == 0  # not run: their cells say why


def test_metadata_edits_do_not_zero_an_honest_notebook(graded):
    assert graded["scores"]["oscar"] == POINTS
    data = json.loads((graded["course"] / "exports/grades.json").read_text())
    flags = " ".join(data["oscar"][QUIZ]["flags"])
    assert "re-marked as released" in flags and "not in the release ignored" in flags


def test_hang_and_raise_lose_only_their_questions_and_edits_deletions_do_not_help(graded):
    bob = graded["scores"]["bob"]
    assert bob["ch00_fp32_mb_test"] == 0  # hung: interrupted by the per-cell timeout
    assert bob["ch00_bytes_fn_test"] == 0  # raised
    assert bob["ch00_tied_test"] == 1.0  # deleted test cell restored and graded
    assert bob["ch00_t4_test"] == 0  # edited test cell restored from the gradebook: the wrong answer fails
    autograded = nbformat.read(graded["course"] / "autograded/bob" / QUIZ / f"{QUIZ}.ipynb", as_version=4)
    errors = [o for c in autograded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert any(o.ename == "KeyboardInterrupt" or "Timeout" in o.ename for o in errors), "the hang was interrupted"


def printed(course, student, grade_id):
    """What a cell of a student's autograded notebook printed."""
    nb = nbformat.read(course / "autograded" / student / QUIZ / f"{QUIZ}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_hostile_submission_is_contained(graded):
    course = graded["course"]
    report = json.loads(printed(course, "mallory", "ch00_fp32_mb_answer"))
    assert all(v.startswith("denied") for v in report["read"].values()), report["read"]
    assert all(v.startswith("denied") for v in report["net"].values()), report["net"]
    # /tmp inside the sandbox is a private tmpfs: a write to a path under /tmp (the host /tmp, or a clone or
    # course that lives there, as in CI) lands in it, not on the host. The host-side checks below prove that.
    in_private_tmp = {"host /tmp"}
    if str(REPO).startswith("/tmp/"):
        in_private_tmp.add("repository")
    if str(course).startswith("/tmp/"):
        in_private_tmp |= {"course folder", "release folder"}
    for label, outcome in report["write"].items():
        if label not in in_private_tmp:
            assert outcome.startswith("denied"), (label, outcome)
    assert not (course / "hacked.txt").exists() and not (REPO / f"hacked-{graded['marker']}.txt").exists()
    assert not os.path.exists(f"/tmp/hostile-{graded['marker']}.txt")
    assert not (course / "release" / QUIZ / "hacked.txt").exists()
    assert "WORKBOOK_CANARY_SECRET" not in report["env"], "the grader's environment leaked into the kernel"
    assert graded["scores"]["mallory"]["ch00_fp32_mb_test"] == 1.0  # the grader carried on
    assert not (course / "autograded/mallory" / QUIZ / "hostile_report.json").exists()  # kernel writes are dropped


def leftovers(graded):
    text = printed(graded["course"], "trudy", "ch00_fp32_mb_answer")
    return json.loads(text.split("LEFTOVERS ", 1)[1])


def test_kernel_leftovers_never_reach_the_trusted_steps(graded):
    course = graded["course"]
    report = leftovers(graded)
    assert set(report["links"].values()) == {"made"}, report["links"]  # the kernel could make them...
    for folder in (course / "autograded/trudy" / QUIZ, course / "feedback/trudy" / QUIZ):
        found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
        assert found == [f"{QUIZ}.html"] if "feedback" in folder.parts else found == [f"{QUIZ}.ipynb"], found
    for path, mode in graded["modes"].items():  # ...but no trusted step followed them (no chmod of the targets)
        assert os.stat(path).st_mode == mode, path
    assert graded["scores"]["trudy"] == POINTS
    assert sorted(p.parent.name for p in (course / "feedback").glob(f"*/{QUIZ}")) == [
        "alice", "bob", "carol", "frank", "mallory", "oscar", "sam", "trudy"]


def test_kernel_sees_no_host_paths_in_proc(graded):
    report = leftovers(graded)
    cmdline = report["proc"]["/proc/1/cmdline"]
    assert str(graded["course"]) not in cmdline and "--ro-bind" not in cmdline, cmdline
    assert str(graded["course"]) not in report["proc"]["/proc/self/mountinfo"]
    for folder in ("workbook", "data", "requirements.txt"):  # the course library is bound from a neutral copy
        assert str(REPO / folder) not in report["proc"]["/proc/self/mountinfo"]


def test_disk_and_processes_are_capped_per_kernel(graded):
    from assessments.sandbox import Cgroup

    report = leftovers(graded)
    assert report["disk"].startswith("stopped after"), report["disk"]  # a 24 MiB working directory
    probe = Cgroup()
    probe.remove()
    if probe.problem is None:  # cgroups available (root): 64 tasks in all, threads included
        assert report["pids"].startswith("stopped after"), report["pids"]


def test_kernel_hooks_are_flagged_in_the_export(graded):
    data = json.loads((graded["course"] / "exports/grades.json").read_text())
    flags = " ".join(data["mallory"][QUIZ]["flags"])
    assert "kernel hooks" in flags and "input_transformers_post" in flags
    assert "restored deleted/unmarked cells: ch00_tied_test" in " ".join(data["bob"][QUIZ]["flags"])
    assert data["alice"][QUIZ]["flags"] == []


def test_export_rows_per_question(graded):
    with open(graded["course"] / "exports/grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    alice = {r["item"]: float(r["score"]) for r in rows if r["student_id"] == "alice"}
    assert alice == {k.removesuffix("_test"): v for k, v in POINTS.items()}


def test_feedback_html_hides_hidden_tests_and_their_tracebacks(graded):
    page = (graded["course"] / "feedback/bob" / QUIZ / f"{QUIZ}.html").read_text()
    assert "28_311_552" not in page  # a hidden test's expected value
    assert "answer_t4 ==" not in page  # the failing hidden line would be quoted by a traceback
    assert "AssertionError" in page  # the failure itself is still reported


def test_library_warnings_on_stderr_do_not_zero_a_test_cell():
    cell = nbformat.v4.new_code_cell("run_gate('x')", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "g", "schema_version": 3}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr",
                                           text="/x/bitsandbytes/nn.py:12: UserWarning: no kernels package\n")]
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(cli.HERE / "nbgrader_config.py")}
    exec((cli.HERE / "nbgrader_config.py").read_text(), namespace)  # the course's own IgnorePattern settings
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = IgnorePattern(config=config).preprocess(nb, {})
    assert determine_grade(nb.cells[0]) == (2.0, 2.0)


def test_class_report_shows_mark_distributions_and_flagged_submissions(graded):
    from assessments.report import write_report

    paths = write_report(graded["course"] / "exports")
    assert [p.name for p in paths] == ["report_marks.csv", "report_flags.csv", "report.html"]
    with open(paths[1], newline="") as fh:
        flags = {(r["student_id"], r["category"]) for r in csv.DictReader(fh)}
    assert {("mallory", "suspicious code"), ("sam", "limit hit"), ("oscar", "notebook structure edited"),
            ("bob", "notebook structure edited")} <= flags, flags
    assert not {s for s, _ in flags} & {"alice", "carol"}
    with open(paths[0], newline="") as fh:
        marks = {r["item"]: r for r in csv.DictReader(fh)}
    assert set(marks) == {"TOTAL", *(k.removesuffix("_test") for k in POINTS)}
    page = paths[2].read_text()
    assert page.count("data:image/png;base64,") == 1 and "Flagged submissions" in page
