"""Labs 2 and 3 graded through the validator, as the gate cells and the trusted re-check grade them: an honest
section earns full marks, each damaged one loses exactly its gates, a copied one loses the student-id gate and is
flagged. The specs name each lab's evidence folder and its student-id gate; build and regrade read them.

tests/assessments/test_lab23_nbgrader.py grades the real notebooks end to end.
"""

from __future__ import annotations

import json
import shutil
import zipfile

import pytest

from assessments import integrity
from assessments.build import REPO
from assessments.regrade import copied_packets, gate_score, near_copies, similar_writing, trusted_gates
from assessments.specs import SpecError, lab_spec, load_lab
from assessments.testing import simulate
from workbook.evidence.schema import LAB_FILES, LAB_GATES

LABS = {
    "lab2": (simulate.honest_packet_lab2, simulate.SCENARIOS_LAB2, simulate.EXPECTED_LOSSES_LAB2),
    "lab3": (simulate.honest_packet_lab3, simulate.SCENARIOS_LAB3, simulate.EXPECTED_LOSSES_LAB3),
}


def lost_gates(lab, section, student):
    spec = lab_spec(lab)
    results = {g: gate_score(g, section, None, student, spec["student_id_gate"]) for g in spec["gates"]}
    return {g for g, r in results.items() if r.score < 1.0}, results


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("honest") / "alice" / "evidence"
    simulate.honest_packet_lab3(root, "alice")
    return root


@pytest.fixture
def packet(pristine, tmp_path):
    """make(student) -> that student's evidence folder with all three labs (alice's copied, others written)."""
    def make(student="alice"):
        root = tmp_path / student / "evidence"
        if student == "alice":
            shutil.copytree(pristine, root)
        else:
            simulate.honest_packet_lab3(root, student)
        return root
    return make


@pytest.mark.parametrize("lab", LABS)
def test_spec_covers_every_gate_with_points_evidence_and_student_gate(lab):
    spec = lab_spec(lab)
    assert set(spec["gates"]) == set(LAB_GATES[lab]) and all(p > 0 for p in spec["gates"].values())
    assert spec["evidence"] == f"evidence/{lab}"
    assert spec["student_id_gate"] == f"{'dpo' if lab == 'lab2' else 'ship'}_reproducibility"
    assert spec["notebook"] == {"lab2": "labs/lab2_preference_alignment.ipynb",
                                "lab3": "labs/lab3_ship_and_rollback.ipynb"}[lab]
    assert all((REPO / path).is_file() for path in spec["files"].values())
    assert lab_spec("lab1")["evidence"] == "evidence" and lab_spec("lab1")["student_id_gate"] == "reproducibility"


@pytest.mark.parametrize("lab", LABS)
def test_no_evidence_file_shares_a_path_with_a_shipped_source_file(lab):
    spec = lab_spec(lab)
    shipped = set(spec["files"]) | {spec["notebook"].rsplit("/", 1)[-1]}
    evidence = {f"{spec['evidence']}/{name}" for name in LAB_FILES[lab]}
    assert not shipped & evidence and all(not path.startswith("evidence/") for path in shipped)


@pytest.mark.parametrize("lab", LABS)
def test_honest_section_gets_full_marks(packet, lab):
    lost, results = lost_gates(lab, packet() / lab, "alice")
    assert lost == set(), {g: r.failures for g, r in results.items()}


@pytest.mark.parametrize(("lab", "scenario"), [(lab, s) for lab, (_, scenarios, _) in LABS.items() for s in scenarios])
def test_each_damaged_section_loses_exactly_its_gates(packet, lab, scenario):
    _, scenarios, expected = LABS[lab]
    section = packet() / lab
    scenarios[scenario](section)
    lost, results = lost_gates(lab, section, "alice")
    assert lost == expected[scenario], {g: results[g].failures for g in lost}
    for gate in lost:
        assert results[gate].failures, f"{gate} lost points without saying why"
        assert all(isinstance(f, str) and "Traceback" not in f for f in results[gate].failures)


@pytest.mark.parametrize("lab", LABS)
def test_packet_copied_from_another_student(packet, lab):
    alice = packet("alice")
    bob = alice.parent.parent / "bob" / "evidence"
    simulate.copied_from(alice)(bob)
    lost, results = lost_gates(lab, bob / lab, "bob")
    assert lost == LABS[lab][2]["copied_packet"]
    assert any("student_id 'alice'" in f for f in results[lab_spec(lab)["student_id_gate"]].failures)
    assert lost_gates(lab, alice / lab, "alice")[0] == set()
    assert integrity.find_copies({"alice": alice / lab, "bob": bob / lab}, lab) == {"alice": ["bob"], "bob": ["alice"]}


@pytest.mark.parametrize("lab", LABS)
def test_independent_honest_sections_are_not_flagged(packet, lab):
    sections = {s: packet(s) / lab for s in ("alice", "carol", "dave")}
    assert integrity.find_copies(sections, lab) == {}
    assert integrity.find_near_copies(sections, lab) == {}
    assert integrity.find_similar_writing(sections) == {}


@pytest.mark.parametrize("lab", LABS)
def test_a_copy_with_the_id_changed_keeps_the_runs_rhythm(packet, lab):
    """Another student's section, id changed and every time shifted (so no byte is shared), is still found."""
    from datetime import datetime, timedelta

    alice = packet("alice")
    bob = shutil.copytree(alice, alice.parent.parent / "bob" / "evidence")
    for name, key in integrity.RHYTHM_SOURCES.get(lab, ()):
        rows = simulate.read_jsonl(bob / lab / name)
        simulate.write_jsonl(bob / lab / name, [dict(r, **{key: (datetime.fromisoformat(r[key]) + timedelta(
            seconds=7)).isoformat()}) if key in r else r for r in rows])
    if lab == "lab3":
        server = json.loads((bob / lab / "server.json").read_text())
        server["port"] += 1
        simulate.write_json(bob / lab / "server.json", server)
        drill = json.loads((bob / lab / "rollback_drill.json").read_text())
        drill["steps"][0]["seconds"] += 0.01
        simulate.write_json(bob / lab / "rollback_drill.json", drill)
    sections = {"alice": alice / lab, "bob": bob / lab}
    assert integrity.find_copies(sections, lab) == {}
    assert integrity.find_near_copies(sections, lab) == {"alice": ["bob"], "bob": ["alice"]}


def _course(tmp_path, lab, students):
    course = tmp_path / "course"
    spec = lab_spec(lab)
    for rel, src in spec["files"].items():
        (course / "source" / lab / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / src, course / "source" / lab / rel)
    for student, evidence in students.items():
        shutil.copytree(evidence, course / "autograded" / student / lab / "evidence")
    return course


@pytest.mark.parametrize("lab", LABS)
def test_trusted_recheck_and_copy_checks_read_the_specs_evidence_folder(packet, tmp_path, lab):
    alice, erin = packet("alice"), packet("erin")
    course = _course(tmp_path, lab, {"alice": alice, "erin": erin, "mallory": alice})
    checked = trusted_gates(course, lab, course / "autograded" / "erin" / lab, "erin")
    assert set(checked) == {f"gate_{g}" for g in LAB_GATES[lab]} and all(r.score == 1 for r in checked.values())
    stolen = trusted_gates(course, lab, course / "autograded" / "mallory" / lab, "mallory")
    assert {g for g, r in stolen.items() if r.score < 1} == {f"gate_{lab_spec(lab)['student_id_gate']}"}
    students = ["alice", "erin", "mallory"]
    assert copied_packets(course, lab, students) == {"alice": ["mallory"], "mallory": ["alice"]}
    assert near_copies(course, lab, students) == {"alice": ["mallory"], "mallory": ["alice"]}
    if lab == "lab2":  # Lab 3 writes no failure analysis
        assert set(similar_writing(course, lab, students)) == {"alice", "mallory"}
    skipped = trusted_gates(course, lab, course / "autograded" / "zoe" / lab, "zoe")
    assert all(r.score == 0 and "not autograded" in r.failures[0] for r in skipped.values())


def test_bad_evidence_folder_or_student_gate_in_a_spec(tmp_path):
    spec = tmp_path / "lab9.yaml"
    base = "assignment: lab9\nnotebook: n.ipynb\nlocked_test: t.jsonl\ngates_intro: g\ngates:\n  picks: 2\n"
    spec.write_text(base + "evidence: ../elsewhere\n")
    with pytest.raises(SpecError, match=r"lab9.yaml: evidence must be a folder inside the assignment"):
        load_lab(spec)
    spec.write_text(base + "student_id_gate: reproducibility\n")
    with pytest.raises(SpecError, match=r"student_id_gate 'reproducibility' must be one of the lab's gates"):
        load_lab(spec)


@pytest.mark.parametrize("lab", LABS)
def test_built_gate_cells_read_the_section_and_check_the_student_on_one_gate(lab):
    spec = lab_spec(lab)
    if not (REPO / spec["notebook"]).is_file():
        pytest.skip(f"{spec['notebook']} is not in this checkout yet")
    from assessments.build import build_lab

    _, nb, files = build_lab(REPO / "assessments" / "labs" / f"{lab}.yaml")
    setup = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{lab}_gates_setup")
    assert f'EVIDENCE = Path("evidence/{lab}")' in setup
    gates = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("gate_")}
    assert set(gates) == {f"gate_{g}" for g in spec["gates"]}
    carrying = [g for g, c in gates.items() if "student_id_problem" in c.source]
    assert carrying == [f"gate_{spec['student_id_gate']}"]
    assert set(files) == set(spec["files"])


@pytest.mark.parametrize("lab", LABS)
def test_student_export_and_self_check_cover_the_lab_section(packet, tmp_path, capsys, lab):
    from assessments import student

    spec = lab_spec(lab)
    folder = packet("erin").parent
    notebook = folder / f"Copy of {spec['notebook'].rsplit('/', 1)[-1]}"
    notebook.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    upload = student.export(notebook, "erin", tmp_path / "out")
    assert upload.name == f"{lab}-erin.zip"
    with zipfile.ZipFile(upload) as archive:
        names = set(archive.namelist())
    assert {f"evidence/{lab}/manifest.json", "evidence/manifest.json"} <= names  # the chain travels with it
    student.export(notebook, "frank", tmp_path / "out")
    assert f"{lab}/manifest.json records student_id='erin'" in capsys.readouterr().out
    assert student.check_packet(folder / "evidence", lab=lab) is True
    LABS[lab][1][next(iter(LABS[lab][1]))](folder / "evidence" / lab)
    assert student.check_packet(folder / "evidence", lab=lab) is False
