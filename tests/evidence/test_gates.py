"""workbook.evidence.gates: a good packet passes every gate; each kind of bad packet fails the right gate, readably.

The `packet` and `at` fixtures come from tests/evidence/conftest.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from workbook.core.io import read_jsonl, sha256_file, write_json, write_jsonl
from workbook.evidence.gates import check_gate, validate_packet
from workbook.evidence.report import format_report
from workbook.evidence.schema import AUTO_MARKER, GATES
from workbook.labs.data import COMPLIANCE_DIR

LOCKED = COMPLIANCE_DIR / "locked_test.jsonl"


def _rewrite_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    write_json(folder / "manifest.json", manifest)


def _refresh_hashes(folder: Path) -> None:
    """Re-hash the packet files, as a student re-running only the manifest cell would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {name: sha256_file(folder / name) for name in manifest["files"] if (folder / name).exists()}
    write_json(folder / "manifest.json", manifest)


def _failures(results, gate):
    return " | ".join(results[gate].failures)


def test_good_packet_passes_every_gate(packet):
    results = validate_packet(packet)
    assert list(results) == list(GATES)
    assert all(r.passed for r in results.values()), format_report(results)
    report = format_report(results)
    assert "7/7 gates passed" in report
    # the pre-filled explanations pass the gate but earn no credit until the student writes their own
    assert results["failure_analysis"].score == 0.0
    assert "auto-diagnosis" in results["failure_analysis"].notes[0]


def test_student_explanations_earn_failure_analysis_credit(packet):
    path = packet / "failure_analysis.md"
    text = path.read_text().replace(AUTO_MARKER, "My reading: the model copied a similar training answer.")
    path.write_text(text)
    result = check_gate("failure_analysis", packet)
    assert result.passed and result.score == 1.0 and not result.notes


def test_missing_folder_and_missing_files(tmp_path, packet):
    results = validate_packet(tmp_path / "nowhere")
    assert not any(r.passed for r in results.values())
    assert "does not exist" in results["baseline"].failures[0]
    for name in ("environment.json", "baseline.jsonl", "eval_results.json", "rollback.md", "failure_analysis.md"):
        (packet / name).unlink()
    results = validate_packet(packet)
    for gate in ("environment", "baseline", "evaluation", "regression", "failure_analysis", "rollback"):
        assert not results[gate].passed
        assert "is missing" in _failures(results, gate)
    assert "not in the packet" in _failures(results, "reproducibility")


def test_malformed_json_is_a_failure_not_a_traceback(packet):
    (packet / "environment.json").write_text("{not json")
    (packet / "baseline.jsonl").write_text('{"id": "x"}\nnot json\n')
    (packet / "eval_results.json").write_text("[1, 2]")
    results = validate_packet(packet)
    assert "environment.json is not valid JSON" in _failures(results, "environment")
    assert "baseline.jsonl, line 2" in _failures(results, "baseline")
    assert "should hold a JSON dict" in _failures(results, "evaluation")


def test_incomplete_environment(packet):
    env = json.loads((packet / "environment.json").read_text())
    del env["seed"]
    env["packages"]["trl"] = None
    env["device"] = "cuda"
    write_json(packet / "environment.json", env)
    failures = _failures(validate_packet(packet), "environment")
    assert "lacks seed" in failures and "trl" in failures and "compute_capability" in failures


def test_baseline_after_training_started_fails(packet, at):
    rows = read_jsonl(packet / "baseline.jsonl")
    rows[0]["timestamp"] = at(500)  # after training_started_at (+50 s)
    write_jsonl(packet / "baseline.jsonl", rows)
    failures = _failures(validate_packet(packet), "baseline")
    assert "generated after training started" in failures and rows[0]["id"] in failures


def test_baseline_checked_against_first_log_entry_when_manifest_lacks_start(packet, at):
    manifest = json.loads((packet / "manifest.json").read_text())
    del manifest["wall_times"]["training_started_at"]
    write_json(packet / "manifest.json", manifest)
    rows = read_jsonl(packet / "baseline.jsonl")
    rows[-1]["timestamp"] = at(105)  # after the first logged step (+101 s)
    write_jsonl(packet / "baseline.jsonl", rows)
    results = validate_packet(packet)
    assert "first training_log.jsonl entry" in _failures(results, "baseline")
    assert "training_started_at" in _failures(results, "reproducibility")


def test_wrong_locked_hash_fails_baseline_evaluation_and_reproducibility(packet, tmp_path):
    other = tmp_path / "other_locked.jsonl"
    shutil.copy(LOCKED, other)
    with other.open("a") as handle:
        handle.write("\n")  # same rows, different bytes: a different hash
    results = validate_packet(packet, locked_test_path=other)
    assert "locked_test_sha256" in _failures(results, "baseline")
    assert "differs from the shipped locked test set" in _failures(results, "evaluation")
    assert "locked_test_sha256 differs" in _failures(results, "reproducibility")


def test_baseline_on_other_ids_fails(packet):
    rows = read_jsonl(packet / "baseline.jsonl")
    rows[0]["id"] = "made-up-01a"
    write_jsonl(packet / "baseline.jsonl", rows[:-1] + [rows[0]])
    failures = _failures(validate_packet(packet), "baseline")
    assert "missing" in failures and "made-up-01a" in failures and "repeats ids" in failures


def test_edited_scores_and_swapped_baseline_are_caught(packet):
    results = json.loads((packet / "eval_results.json").read_text())
    results["per_example"][0]["tuned"]["score"] = 1.0 if results["per_example"][0]["tuned"]["score"] < 1 else 0.0
    results["per_example"][1]["baseline"]["answer"] = "a different baseline"
    results["aggregate"]["tuned"]["score"] = 0.99
    write_json(packet / "eval_results.json", results)
    failures = _failures(validate_packet(packet), "evaluation")
    assert "do not match their answers" in failures
    assert "differ from baseline.jsonl" in failures
    assert "aggregate.tuned" in failures


def test_missing_regression_checks(packet):
    results = json.loads((packet / "eval_results.json").read_text())
    del results["regression"]["refusal"]["tuned"]
    results["regression"]["general"]["baseline"]["per_example"] = []
    del results["regression"]["forgetting_guard"]
    write_json(packet / "eval_results.json", results)
    failures = _failures(validate_packet(packet), "regression")
    assert "refusal.tuned" in failures and "general.baseline" in failures and "forgetting_guard" in failures


def test_loss_curve_contradicting_training_log(packet):
    rows = read_jsonl(packet / "training_log.jsonl")
    rows[3]["loss"] = 0.01  # the log no longer matches the curve or the manifest
    write_jsonl(packet / "training_log.jsonl", rows)
    _refresh_hashes(packet)
    failures = _failures(validate_packet(packet), "reproducibility")
    assert "does not match the loss series recorded in manifest" in failures
    assert "plots different points" in failures


def test_loss_curve_png_without_points_or_not_a_png(packet):
    (packet / "loss_curve.png").write_bytes(b"GIF89a not a png")
    _refresh_hashes(packet)
    assert "not a readable PNG" in _failures(validate_packet(packet), "reproducibility")


def test_files_changed_after_manifest(packet):
    (packet / "data_card.md").write_text("# edited later\n")
    failures = _failures(validate_packet(packet), "reproducibility")
    assert "data_card.md changed after the manifest was written" in failures


def test_missing_reproducibility_fields(packet):
    _rewrite_manifest(packet, seed="zero", hyperparameters={"learning_rate": 1e-4}, git_commit="", student_id=None)
    failures = _failures(validate_packet(packet), "reproducibility")
    for expected in ("integer `seed`", "lora_r", "`git_commit`", "`student_id`"):
        assert expected in failures


def test_fewer_than_three_failure_cases_or_fake_ids(packet):
    path = packet / "failure_analysis.md"
    text = path.read_text()
    first_two = text.split("## Case 3:")[0]
    path.write_text(first_two + "## Case 3: not-a-test-id\n\n**Explanation:**\n\nThis one is made up entirely.\n")
    failures = _failures(validate_packet(packet), "failure_analysis")
    assert "not-a-test-id" in failures and "2 case(s) with real locked test ids" in failures


def test_failure_case_without_explanation(packet):
    path = packet / "failure_analysis.md"
    text = path.read_text()
    head, _, rest = text.partition("**Explanation:**\n\n")  # the first case's explanation
    rest = rest.split("## Case 2:", 1)[1]
    path.write_text(head + "**Explanation:**\n\n## Case 2:" + rest)
    assert "without an explanation" in _failures(validate_packet(packet), "failure_analysis")


def test_missing_or_inconsistent_rollback(packet):
    text = (packet / "rollback.md").read_text()
    manifest = json.loads((packet / "manifest.json").read_text())
    (packet / "rollback.md").write_text(text.replace(manifest["adapters"][0]["sha256"], "0" * 64))
    assert "not in rollback.md" in _failures(validate_packet(packet), "rollback")
    (packet / "rollback.md").write_text("# Rollback\nJust retrain.\n")
    failures = _failures(validate_packet(packet), "rollback")
    assert "no adapter sha256" in failures and "base model" in failures


def test_adapter_changed_on_disk(packet):
    manifest = json.loads((packet / "manifest.json").read_text())
    (Path(manifest["adapters"][0]["path"]) / "adapter_model.safetensors").write_bytes(b"retrained")
    assert "no longer matches" in _failures(validate_packet(packet), "rollback")


def test_a_relative_adapter_path_is_not_read_against_the_checking_folder(packet, tmp_path, monkeypatch):
    """A grader runs the check elsewhere: an unrelated labs/outputs/adapters/v1 there must not cost points."""
    manifest = json.loads((packet / "manifest.json").read_text())
    unrelated = tmp_path / "grader" / "labs" / "outputs" / "adapters" / "v1"
    unrelated.mkdir(parents=True)
    (unrelated / "adapter_model.safetensors").write_bytes(b"the instructor's own adapter")
    manifest["adapters"][0]["path"] = "labs/outputs/adapters/v1"
    write_json(packet / "manifest.json", manifest)
    monkeypatch.chdir(tmp_path / "grader")
    assert "no longer matches" not in _failures(validate_packet(packet), "rollback")


def test_unexpected_shapes_never_raise(packet):
    write_json(packet / "eval_results.json", {"per_example": [{"id": 1, "baseline": 5, "tuned": None}]})
    write_json(packet / "manifest.json", {"files": [], "wall_times": 3, "dataset": "x", "model": []})
    results = validate_packet(packet)
    assert not results["evaluation"].passed and not results["reproducibility"].passed
    assert isinstance(format_report(results), str)


def test_check_gate_rejects_unknown_names(packet):
    with pytest.raises(ValueError, match="Unknown gate"):
        check_gate("vibes", packet)
    assert check_gate("rollback", packet).passed
