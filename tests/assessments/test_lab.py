"""Lab 1 grading through the validator: an honest packet earns full marks, each damaged one loses exactly its gates.

These run the gate logic the grade cells and the trusted re-check use (assessments.regrade.gate_score, i.e.
workbook.evidence.gates.check_gate plus the student-id check) directly, without nbgrader, so they take seconds.
tests/assessments/test_lab_nbgrader.py grades a few real lab notebooks end to end.
"""

from __future__ import annotations

import shutil

import pytest

from assessments import integrity
from assessments.build import REPO
from assessments.regrade import gate_score, trusted_gates
from assessments.specs import SpecError, lab_spec, load_lab
from assessments.testing import simulate
from workbook.evidence.schema import GATES, PACKET_FILES

SPEC = lab_spec("lab1")


def lost_gates(folder, student):
    results = {g: gate_score(g, folder, None, student) for g in GATES}
    return {g for g, r in results.items() if r.score < 1.0}, results


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return simulate.honest_packet(tmp_path_factory.mktemp("honest") / "evidence", "alice")


@pytest.fixture
def packet(pristine, tmp_path):
    def make(student="alice"):
        folder = tmp_path / student / "evidence"
        if student == "alice":
            shutil.copytree(pristine, folder)
        else:
            simulate.honest_packet(folder, student)
        return folder
    return make


def test_spec_covers_every_gate_with_points():
    assert set(SPEC["gates"]) == set(GATES)
    assert all(points > 0 for points in SPEC["gates"].values())


def test_honest_packet_gets_full_marks(packet):
    lost, results = lost_gates(packet(), "alice")
    assert lost == set(), {g: r.failures for g, r in results.items()}


@pytest.mark.parametrize("scenario", sorted(simulate.SCENARIOS))
def test_each_damaged_packet_loses_exactly_its_gates(packet, scenario):
    folder = packet()
    simulate.SCENARIOS[scenario](folder)
    lost, results = lost_gates(folder, "alice")
    assert lost == simulate.EXPECTED_LOSSES[scenario], {g: results[g].failures for g in lost}
    for gate in lost:
        assert results[gate].failures, f"{gate} lost points without saying why"
        assert all(isinstance(f, str) and "Traceback" not in f for f in results[gate].failures)


def test_packet_copied_from_another_student(packet):
    alice = packet("alice")
    bob = alice.parent.parent / "bob" / "evidence"
    simulate.copied_from(alice)(bob)
    lost, results = lost_gates(bob, "bob")
    assert lost == simulate.EXPECTED_LOSSES["copied_packet"]
    assert any("student_id 'alice'" in f for f in results["reproducibility"].failures)
    assert lost_gates(alice, "alice")[0] == set()  # the original keeps its marks...
    assert integrity.find_copies({"alice": alice, "bob": bob}) == {"alice": ["bob"], "bob": ["alice"]}  # ...flagged


def test_independent_honest_packets_are_not_flagged_as_copies(packet):
    assert integrity.find_copies({"alice": packet("alice"), "carol": packet("carol")}) == {}


def test_trusted_recheck_uses_the_instructors_locked_set(packet, tmp_path):
    folder = packet("dave")
    tampered = simulate.tampered_locked_set(folder)
    course = tmp_path / "course"
    # against the student's own (tampered) copy the packet would pass ...
    own = {g: gate_score(g, folder, tampered, "dave").score for g in GATES}
    assert min(own.values()) == 1.0
    # ... but the re-check compares with the instructor's copy in source/lab1/
    instructor = course / "source" / "lab1" / SPEC["locked_test"]
    instructor.parent.mkdir(parents=True)
    shutil.copy(simulate.COMPLIANCE_DIR / "locked_test.jsonl", instructor)
    checked = trusted_gates(course, "lab1", folder.parent, "dave")
    assert {g.removeprefix("gate_") for g, r in checked.items() if r.score < 1} == {"baseline", "evaluation",
                                                                                  "reproducibility"}


def test_bad_lab_spec_names_the_file_and_field(tmp_path):
    spec = tmp_path / "lab9.yaml"
    spec.write_text("assignment: lab9\nnotebook: n.ipynb\nlocked_test: t.jsonl\ngates_intro: g\n"
                    "gates:\n  baseline: two\n")
    with pytest.raises(SpecError, match=r"lab9.yaml: gate 'baseline': points must be a positive number"):
        load_lab(spec)
    spec.write_text("assignment: lab9\nnotebook: n.ipynb\n")
    with pytest.raises(SpecError, match=r"lab9.yaml: missing top-level field\(s\) \['locked_test'"):
        load_lab(spec)


def test_no_evidence_file_shares_a_path_with_a_shipped_source_file():
    shipped = set(SPEC["files"]) | {SPEC["notebook"].rsplit("/", 1)[-1]}
    evidence = {f"evidence/{name}" for name in PACKET_FILES}
    assert not shipped & evidence
    assert all(not path.startswith("evidence/") for path in shipped)


def test_student_export_zips_notebook_and_evidence_with_a_sha256_manifest(packet, tmp_path, capsys):
    import json
    import zipfile

    from assessments import student

    folder = packet("erin").parent
    notebook = folder / "Copy of lab1_qlora_sft.ipynb"
    notebook.write_text((REPO / SPEC["notebook"]).read_text())
    upload = student.export(notebook, "erin", tmp_path / "out")
    assert upload.name == "lab1-erin.zip"
    with zipfile.ZipFile(upload) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("submission_manifest.json"))
    assert {"lab1_qlora_sft.ipynb", "evidence/manifest.json", "evidence/baseline.jsonl"} <= names
    assert manifest["student_id"] == "erin" and set(manifest["files"]) == names - {"submission_manifest.json"}
    assert student.verify_upload(upload) == []
    # exporting someone else's packet under your id warns at once
    student.export(notebook, "frank", tmp_path / "out")
    assert "records student_id='erin'" in capsys.readouterr().out
    with pytest.raises(ValueError, match="student id"):
        student.export(notebook, "not valid!", tmp_path)


def test_student_packet_check_prints_the_validators_report(packet, capsys):
    from assessments.student import check_packet

    folder = packet("gina")
    assert check_packet(folder) is True
    simulate.few_failure_cases(folder)
    assert check_packet(folder) is False
    assert "FAIL  failure_analysis" in capsys.readouterr().out
