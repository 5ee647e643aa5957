"""Labs 2 and 3 through real nbgrader: uploads collected, notebooks autograded in the sandbox (grading re-reads
the packet: nothing is trained, exported or served), gates exported with the trusted re-check.

Per lab, two submissions: an honest one (full marks) and a damaged one (below: exactly the scenario's gates lost).
Each upload carries the whole running packet (Lab 1's evidence folder with the earlier sections), as the student
export writes it. The other scenarios are covered through the validator in tests/assessments/test_lab23.py.
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

DAMAGED = {"lab2": "reward_accuracy_inflated", "lab3": "drill_hash_mismatch"}
SCENARIOS = {"lab2": simulate.SCENARIOS_LAB2, "lab3": simulate.SCENARIOS_LAB3}
EXPECTED = {"lab2": simulate.EXPECTED_LOSSES_LAB2, "lab3": simulate.EXPECTED_LOSSES_LAB3}


def _notebook(lab: str) -> str:
    return lab_spec(lab)["notebook"].rsplit("/", 1)[-1]


def _missing(lab: str) -> bool:
    released = cli.HERE / "release" / lab / _notebook(lab)
    return not released.is_file() or not (REPO / lab_spec(lab)["notebook"]).is_file()


pytestmark = pytest.mark.skipif(not sandbox_ready() and not os.environ.get("WORKBOOK_REQUIRE_SANDBOX"),
                                reason="bubblewrap is not installed: `make assess-setup`")


@pytest.fixture(scope="module", params=["lab2", "lab3"])
def graded(request, tmp_path_factory):
    lab = request.param
    if _missing(lab):
        pytest.skip(f"{lab} is not released in this checkout yet ({lab_spec(lab)['notebook']})")
    root = tmp_path_factory.mktemp(lab)
    course = scratch_course(root, [lab])
    release = nbformat.read(course / "release" / lab / _notebook(lab), as_version=4)
    uploads = root / "uploads"
    honest = {"lab2": simulate.honest_packet_lab2, "lab3": simulate.honest_packet_lab3}[lab]
    for student in ("alice", "bob"):
        evidence = root / "packets" / student / "evidence"
        honest(evidence, student)
        if student == "bob":
            SCENARIOS[lab][DAMAGED[lab]](evidence / lab)
        files = {f"Copy of {_notebook(lab)}" if student == "alice" else _notebook(lab): notebook_bytes(release)}
        files.update({f"evidence/{p.relative_to(evidence).as_posix()}": p.read_bytes()
                      for p in sorted(evidence.rglob("*")) if p.is_file()})
        zip_upload(uploads, lab, student, files)
    cli.collect(lab, uploads, course=course)
    run = cli.autograde(lab, course=course, timeout=60)  # importing torch & co. is slow on a busy 2-core box
    export(course=course)
    report = json.loads((course / "exports" / "grades.json").read_text())
    yield {"lab": lab, "course": course, "report": report, "log": run.log}
    shutil.rmtree(root, ignore_errors=True)


def _gates(graded, student):
    return {k: v["score"] for k, v in graded["report"][student][graded["lab"]]["items"].items()}


def _max(lab):
    return {f"gate_{g}": float(p) for g, p in lab_spec(lab)["gates"].items()}


def test_honest_submission_gets_full_marks_and_its_notebook_runs_clean(graded):
    lab = graded["lab"]
    assert _gates(graded, "alice") == _max(lab), graded["log"][-3000:]
    autograded = nbformat.read(graded["course"] / "autograded" / "alice" / lab / _notebook(lab), as_version=4)
    errors = [f"{o.ename}: {o.evalue}" for c in autograded.cells for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert errors == [], errors  # the lab's grading path re-reads an honest packet without a single failed claim
    flags = graded["report"]["alice"][lab]["flags"]
    assert not [f for f in flags if "re-check gave" in f or "identical" in f], flags


def test_damaged_submission_loses_exactly_its_gates(graded):
    lab = graded["lab"]
    full = _max(lab)
    lost = {g.removeprefix("gate_") for g, s in _gates(graded, "bob").items() if s < full[g]}
    assert lost == EXPECTED[lab][DAMAGED[lab]], graded["report"]["bob"][lab]
    total = graded["report"]["bob"][lab]
    assert 0 < total["score"] < total["max_score"]
    assert not [f for f in total["flags"] if "re-check gave" in f], total["flags"]  # the kernel and re-check agree
