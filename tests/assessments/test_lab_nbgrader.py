"""Lab 1 through real nbgrader: zips collected, notebooks autograded in the sandbox, gates exported.

A handful of submissions, each exercising what only the full pipeline can show: a Colab "Copy of" notebook with
a raising extra cell, a copied packet with a deleted gate cell, an edited gate cell, and a locked test set the
student changed (restored from source/ at grading). The other packet scenarios are covered through the
validator in tests/assessments/test_lab.py.
"""

from __future__ import annotations

import json
import os
import shutil

import nbformat
import pytest

from assessments import cli
from assessments.build import REPO
from assessments.export import export
from assessments.specs import lab_spec
from assessments.testing import simulate
from assessments.testing.fixtures import notebook_bytes, sandbox_ready, scratch_course, zip_upload

LAB = "lab1"
SPEC = lab_spec(LAB)
NOTEBOOK = "lab1_qlora_sft.ipynb"
MAX = {f"gate_{g}": float(p) for g, p in SPEC["gates"].items()}

pytestmark = [
    pytest.mark.skipif(not (cli.HERE / "release" / LAB / NOTEBOOK).is_file() or not (REPO / SPEC["notebook"]).is_file(),
                       reason="Lab 1 is not in this checkout yet (labs/lab1_qlora_sft.ipynb)"),
    pytest.mark.skipif(not sandbox_ready() and not os.environ.get("WORKBOOK_REQUIRE_SANDBOX"),
                       reason="bubblewrap is not installed: `make assess-setup`"),
]


def upload(uploads, student, nb, evidence, extra=None, name=NOTEBOOK):
    files = {name: notebook_bytes(nb)}
    files.update({f"evidence/{p.name}": p.read_bytes() for p in sorted(evidence.iterdir())})
    files.update(extra or {})
    zip_upload(uploads, LAB, student, files)


def edit_cell(nb, grade_id, source=None, delete=False):
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    if delete:
        del nb.cells[index]
    else:
        nb.cells[index].source = source
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    course = scratch_course(root, [LAB])
    release = course / "release" / LAB / NOTEBOOK
    fresh = lambda: nbformat.read(release, as_version=4)  # noqa: E731
    packets, uploads = root / "packets", root / "uploads"
    # alice: honest; Colab's "Copy of" name; an extra cell of hers raises before the gates (a hanging cell is
    # covered by the quiz tests: here the timeout must leave room for importing torch on a busy machine)
    alice = simulate.honest_packet(packets / "alice" / "evidence", "alice")
    nb = fresh()
    broken = nbformat.v4.new_code_cell("raise RuntimeError('my scratch cell')")
    broken.pop("id")
    nb.cells.insert(len(nb.cells) - 9, broken)
    upload(uploads, "alice", nb, alice, name=f"Copy of {NOTEBOOK}")
    # bob: alice's packet byte for byte, and he deleted a gate cell
    upload(uploads, "bob", edit_cell(fresh(), "gate_rollback", delete=True), alice)
    # carol: a late baseline, and she "fixed" the baseline gate cell
    carol = simulate.honest_packet(packets / "carol" / "evidence", "carol")
    simulate.baseline_after_training(carol)
    upload(uploads, "carol", edit_cell(fresh(), "gate_baseline", 'print("PASS  baseline")'), carol)
    # dave: made his packet from an edited locked test set, and uploads that set too
    dave = simulate.honest_packet(packets / "dave" / "evidence", "dave")
    tampered = simulate.tampered_locked_set(dave)
    upload(uploads, "dave", fresh(), dave, extra={SPEC["locked_test"]: tampered.read_bytes()})

    cli.collect(LAB, uploads, course=course)
    run = cli.autograde(LAB, course=course, timeout=45)  # imports of torch & co. are slow on a busy 2-core box
    cli.feedback(LAB, course=course)
    export(course=course)
    report = json.loads((course / "exports" / "grades.json").read_text())
    yield {"course": course, "report": report, "log": run.stderr}
    shutil.rmtree(root, ignore_errors=True)


def gates(graded, student):
    return {f"gate_{k.removeprefix('gate_')}": v["score"] for k, v in graded["report"][student][LAB]["items"].items()}


def lost(graded, student):
    return {g.removeprefix("gate_") for g, s in gates(graded, student).items() if s < MAX[g]}


def test_honest_copy_of_notebook_with_a_raising_cell_gets_full_marks(graded):
    assert gates(graded, "alice") == MAX, graded["log"][-3000:]
    autograded = nbformat.read(graded["course"] / "autograded/alice" / LAB / NOTEBOOK, as_version=4)
    errors = [o.evalue for c in autograded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == ["my scratch cell"]


def test_copied_packet_loses_reproducibility_and_both_are_flagged(graded):
    assert lost(graded, "bob") == simulate.EXPECTED_LOSSES["copied_packet"]
    bob = graded["report"]["bob"][LAB]
    assert any("student_id 'alice'" in f for f in bob["items"]["gate_reproducibility"]["failures"])
    assert any("identical to: alice" in f for f in bob["flags"])
    assert any("identical to: bob" in f for f in graded["report"]["alice"][LAB]["flags"])
    assert any("restored deleted/unmarked cells: gate_rollback" in f for f in bob["flags"])
    assert gates(graded, "bob")["gate_rollback"] == MAX["gate_rollback"]  # the deleted gate was restored


def test_edited_gate_cell_is_undone(graded):
    assert lost(graded, "carol") == {"baseline"}
    failures = graded["report"]["carol"][LAB]["items"]["gate_baseline"]["failures"]
    assert any("after training started" in f for f in failures)


def test_tampered_locked_set_is_replaced_by_the_instructors_copy(graded):
    assert lost(graded, "dave") == simulate.EXPECTED_LOSSES["tampered_locked_set"]
    restored = graded["course"] / "autograded/dave" / LAB / SPEC["locked_test"]
    assert restored.read_bytes() == (REPO / SPEC["files"][SPEC["locked_test"]]).read_bytes()


def test_gate_scores_from_the_kernel_agree_with_the_trusted_recheck(graded):
    for student in ("alice", "bob", "carol", "dave"):
        assert not [f for f in graded["report"][student][LAB]["flags"] if "re-check gave" in f], student


def test_feedback_shows_gate_reports(graded):
    page = (graded["course"] / "feedback/carol" / LAB / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert "FAIL  baseline" in page and "BEGIN HIDDEN TESTS" not in page
