"""workbook.evidence: a good packet passes every gate; each kind of bad packet fails the right gate, readably."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workbook import evidence as ev
from workbook.core.io import read_jsonl, sha256_file, write_jsonl
from workbook.labs.lab1 import COMPLIANCE_DIR, dataset_fingerprint

LOCKED = COMPLIANCE_DIR / "locked_test.jsonl"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def make_packet(folder: Path) -> Path:
    """A complete, consistent packet built with the same writers the notebook uses (no model needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    test = read_jsonl(LOCKED)
    general = read_jsonl(COMPLIANCE_DIR / "general.jsonl")
    refusal = read_jsonl(COMPLIANCE_DIR / "refusal.jsonl")
    locked_sha = sha256_file(LOCKED)
    ev.write_json(
        folder / "environment.json",
        {
            "platform": "local",
            "python": "3.11.9",
            "device": "cpu",
            "gpu": {"available": False},
            "compute_dtype": "float32",
            "fast": True,
            "cpu_count": 2,
            "packages": {"torch": "2.13.0", "transformers": "5.17.0", "peft": "0.21.2", "trl": "1.16.0",
                         "bitsandbytes": "0.50.2"},
            "seed": 0,
        },
    )
    (folder / "data_card.md").write_text("# Data card\n")
    ev.write_json(folder / "data_card.json", dataset_fingerprint())
    baseline = [
        {"id": r["id"], "question": r["question"], "answer": "I am not sure.", "locked_test_sha256": locked_sha,
         "timestamp": _iso(i)}
        for i, r in enumerate(test)
    ]
    write_jsonl(folder / "baseline.jsonl", baseline)
    log = [
        {"loss": 3.0 - 0.1 * step, "epoch": step / 10, "step": step, "logged_at": _iso(100 + step)}
        for step in range(1, 11)
    ]
    log.append({"eval_loss": 2.5, "epoch": 1.0, "step": 10, "logged_at": _iso(111)})
    write_jsonl(folder / "training_log.jsonl", log)
    ev.save_loss_curve(log, folder / "loss_curve.png")
    tuned = [{"id": r["id"], "answer": r["answer"]} for r in test]
    results = ev.evaluation_results(test, baseline, tuned, locked_sha)
    results["regression"] = ev.regression_results(
        general,
        {"baseline": [{"id": r["id"], "answer": r["answer"]} for r in general],
         "tuned": [{"id": r["id"], "answer": r["answer"]} for r in general]},
        refusal,
        {"baseline": [{"id": r["id"], "answer": "I can't help with that."} for r in refusal],
         "tuned": [{"id": r["id"], "answer": "Sure."} for r in refusal]},
    )
    ev.add_forgetting_guard(results)
    ev.write_json(folder / "eval_results.json", results)
    ev.write_failure_analysis(results["per_example"], folder / "failure_analysis.md")
    adapter = folder.parent / "adapters" / "v1"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    record = {"version": "v1", "path": str(adapter), "sha256": ev.sha256_path(adapter), "created_at": _iso(200)}
    ev.write_rollback(folder / "rollback.md", "HuggingFaceTB/SmolLM2-135M-Instruct", None, [record])
    fingerprint = dataset_fingerprint()
    ev.write_manifest(
        folder,
        {
            "dataset": {k: fingerprint[k] for k in ("name", "version", "sha256", "locked_test_sha256")},
            "model": {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": None},
            "hyperparameters": {key: 1 for key in ev.HYPERPARAMETER_KEYS},
            "seed": 0,
            "wall_times": {"baseline_s": 1.0, "training_s": 2.0, "evaluation_s": 3.0, "training_started_at": _iso(50)},
            "git_commit": "abc123",
            "student_id": "student-1",
            "adapters": [record],
        },
    )
    return folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_packet(tmp_path_factory.mktemp("pristine") / "evidence")


@pytest.fixture
def packet(pristine, tmp_path):
    """A fresh copy of the good packet (its adapter folder too, so tests may damage both)."""
    shutil.copytree(pristine.parent / "adapters", tmp_path / "adapters")
    folder = shutil.copytree(pristine, tmp_path / "evidence")
    manifest = json.loads((folder / "manifest.json").read_text())
    for record in manifest["adapters"]:
        record["path"] = str(tmp_path / "adapters" / Path(record["path"]).name)
    ev.write_json(folder / "manifest.json", manifest)
    return folder


def _rewrite_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    ev.write_json(folder / "manifest.json", manifest)


def _refresh_hashes(folder: Path) -> None:
    """Re-hash the packet files, as a student re-running only the manifest cell would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {name: ev.sha256_path(folder / name) for name in manifest["files"] if (folder / name).exists()}
    ev.write_json(folder / "manifest.json", manifest)


def _failures(results, gate):
    return " | ".join(results[gate].failures)


def test_good_packet_passes_every_gate(packet):
    results = ev.validate_packet(packet)
    assert list(results) == list(ev.GATES)
    assert all(r.passed for r in results.values()), ev.format_report(results)
    report = ev.format_report(results)
    assert "7/7 gates passed" in report
    # the pre-filled explanations pass the gate but earn no credit until the student writes their own
    assert results["failure_analysis"].score == 0.0
    assert "auto-diagnosis" in results["failure_analysis"].notes[0]


def test_student_explanations_earn_failure_analysis_credit(packet):
    path = packet / "failure_analysis.md"
    text = path.read_text().replace(ev.AUTO_MARKER, "My reading: the model copied a similar training answer.")
    path.write_text(text)
    result = ev.check_gate("failure_analysis", packet)
    assert result.passed and result.score == 1.0 and not result.notes


def test_missing_folder_and_missing_files(tmp_path, packet):
    results = ev.validate_packet(tmp_path / "nowhere")
    assert not any(r.passed for r in results.values())
    assert "does not exist" in results["baseline"].failures[0]
    for name in ("environment.json", "baseline.jsonl", "eval_results.json", "rollback.md", "failure_analysis.md"):
        (packet / name).unlink()
    results = ev.validate_packet(packet)
    for gate in ("environment", "baseline", "evaluation", "regression", "failure_analysis", "rollback"):
        assert not results[gate].passed
        assert "is missing" in _failures(results, gate)
    assert "not in the packet" in _failures(results, "reproducibility")


def test_malformed_json_is_a_failure_not_a_traceback(packet):
    (packet / "environment.json").write_text("{not json")
    (packet / "baseline.jsonl").write_text('{"id": "x"}\nnot json\n')
    (packet / "eval_results.json").write_text("[1, 2]")
    results = ev.validate_packet(packet)
    assert "environment.json is malformed" in _failures(results, "environment")
    assert "line 2 is not JSON" in _failures(results, "baseline")
    assert "should hold a JSON dict" in _failures(results, "evaluation")


def test_incomplete_environment(packet):
    env = json.loads((packet / "environment.json").read_text())
    del env["seed"]
    env["packages"]["trl"] = None
    env["device"] = "cuda"
    ev.write_json(packet / "environment.json", env)
    failures = _failures(ev.validate_packet(packet), "environment")
    assert "lacks seed" in failures and "trl" in failures and "compute_capability" in failures


def test_baseline_after_training_started_fails(packet):
    rows = read_jsonl(packet / "baseline.jsonl")
    rows[0]["timestamp"] = _iso(500)  # after training_started_at (+50 s)
    write_jsonl(packet / "baseline.jsonl", rows)
    failures = _failures(ev.validate_packet(packet), "baseline")
    assert "generated after training started" in failures and rows[0]["id"] in failures


def test_baseline_checked_against_first_log_entry_when_manifest_lacks_start(packet):
    manifest = json.loads((packet / "manifest.json").read_text())
    del manifest["wall_times"]["training_started_at"]
    ev.write_json(packet / "manifest.json", manifest)
    rows = read_jsonl(packet / "baseline.jsonl")
    rows[-1]["timestamp"] = _iso(105)  # after the first logged step (+101 s)
    write_jsonl(packet / "baseline.jsonl", rows)
    results = ev.validate_packet(packet)
    assert "first training_log.jsonl entry" in _failures(results, "baseline")
    assert "training_started_at" in _failures(results, "reproducibility")


def test_wrong_locked_hash_fails_baseline_evaluation_and_reproducibility(packet, tmp_path):
    other = tmp_path / "other_locked.jsonl"
    shutil.copy(LOCKED, other)
    with other.open("a") as handle:
        handle.write("\n")  # same rows, different bytes: a different hash
    results = ev.validate_packet(packet, locked_test_path=other)
    assert "locked_test_sha256" in _failures(results, "baseline")
    assert "differs from the shipped locked test set" in _failures(results, "evaluation")
    assert "locked_test_sha256 differs" in _failures(results, "reproducibility")


def test_baseline_on_other_ids_fails(packet):
    rows = read_jsonl(packet / "baseline.jsonl")
    rows[0]["id"] = "made-up-01a"
    write_jsonl(packet / "baseline.jsonl", rows[:-1] + [rows[0]])
    failures = _failures(ev.validate_packet(packet), "baseline")
    assert "missing" in failures and "made-up-01a" in failures and "repeats ids" in failures


def test_edited_scores_and_swapped_baseline_are_caught(packet):
    results = json.loads((packet / "eval_results.json").read_text())
    results["per_example"][0]["tuned"]["score"] = 1.0 if results["per_example"][0]["tuned"]["score"] < 1 else 0.0
    results["per_example"][1]["baseline"]["answer"] = "a different baseline"
    results["aggregate"]["tuned"]["score"] = 0.99
    ev.write_json(packet / "eval_results.json", results)
    failures = _failures(ev.validate_packet(packet), "evaluation")
    assert "do not match their answers" in failures
    assert "differ from baseline.jsonl" in failures
    assert "aggregate.tuned" in failures


def test_missing_regression_checks(packet):
    results = json.loads((packet / "eval_results.json").read_text())
    del results["regression"]["refusal"]["tuned"]
    results["regression"]["general"]["baseline"]["per_example"] = []
    del results["regression"]["forgetting_guard"]
    ev.write_json(packet / "eval_results.json", results)
    failures = _failures(ev.validate_packet(packet), "regression")
    assert "refusal.tuned" in failures and "general.baseline" in failures and "forgetting_guard" in failures


def test_loss_curve_contradicting_training_log(packet):
    rows = read_jsonl(packet / "training_log.jsonl")
    rows[3]["loss"] = 0.01  # the log no longer matches the curve or the manifest
    write_jsonl(packet / "training_log.jsonl", rows)
    _refresh_hashes(packet)
    failures = _failures(ev.validate_packet(packet), "reproducibility")
    assert "does not match the loss series recorded in manifest" in failures
    assert "plots different points" in failures


def test_loss_curve_png_without_points_or_not_a_png(packet):
    (packet / "loss_curve.png").write_bytes(b"GIF89a not a png")
    _refresh_hashes(packet)
    assert "not a readable PNG" in _failures(ev.validate_packet(packet), "reproducibility")


def test_files_changed_after_manifest(packet):
    (packet / "data_card.md").write_text("# edited later\n")
    failures = _failures(ev.validate_packet(packet), "reproducibility")
    assert "data_card.md changed after the manifest was written" in failures


def test_missing_reproducibility_fields(packet):
    _rewrite_manifest(packet, seed="zero", hyperparameters={"learning_rate": 1e-4}, git_commit="", student_id=None)
    failures = _failures(ev.validate_packet(packet), "reproducibility")
    for expected in ("integer `seed`", "lora_r", "`git_commit`", "`student_id`"):
        assert expected in failures


def test_fewer_than_three_failure_cases_or_fake_ids(packet):
    path = packet / "failure_analysis.md"
    text = path.read_text()
    first_two = text.split("## Case 3:")[0]
    path.write_text(first_two + "## Case 3: not-a-test-id\n\n**Explanation:**\n\nThis one is made up entirely.\n")
    failures = _failures(ev.validate_packet(packet), "failure_analysis")
    assert "not-a-test-id" in failures and "2 case(s) with real locked test ids" in failures


def test_failure_case_without_explanation(packet):
    path = packet / "failure_analysis.md"
    text = path.read_text()
    head, _, rest = text.partition("**Explanation:**\n\n")  # the first case's explanation
    rest = rest.split("## Case 2:", 1)[1]
    path.write_text(head + "**Explanation:**\n\n## Case 2:" + rest)
    assert "without an explanation" in _failures(ev.validate_packet(packet), "failure_analysis")


def test_missing_or_inconsistent_rollback(packet):
    text = (packet / "rollback.md").read_text()
    manifest = json.loads((packet / "manifest.json").read_text())
    (packet / "rollback.md").write_text(text.replace(manifest["adapters"][0]["sha256"], "0" * 64))
    assert "not in rollback.md" in _failures(ev.validate_packet(packet), "rollback")
    (packet / "rollback.md").write_text("# Rollback\nJust retrain.\n")
    failures = _failures(ev.validate_packet(packet), "rollback")
    assert "no adapter sha256" in failures and "base model" in failures


def test_adapter_changed_on_disk(packet):
    manifest = json.loads((packet / "manifest.json").read_text())
    (Path(manifest["adapters"][0]["path"]) / "adapter_model.safetensors").write_bytes(b"retrained")
    assert "no longer matches" in _failures(ev.validate_packet(packet), "rollback")


def test_a_relative_adapter_path_is_not_read_against_the_checking_folder(packet, tmp_path, monkeypatch):
    """A grader runs the check elsewhere: an unrelated labs/outputs/adapters/v1 there must not cost points."""
    manifest = json.loads((packet / "manifest.json").read_text())
    unrelated = tmp_path / "grader" / "labs" / "outputs" / "adapters" / "v1"
    unrelated.mkdir(parents=True)
    (unrelated / "adapter_model.safetensors").write_bytes(b"the instructor's own adapter")
    manifest["adapters"][0]["path"] = "labs/outputs/adapters/v1"
    ev.write_json(packet / "manifest.json", manifest)
    monkeypatch.chdir(tmp_path / "grader")
    assert "no longer matches" not in _failures(ev.validate_packet(packet), "rollback")


def test_unexpected_shapes_never_raise(packet):
    ev.write_json(packet / "eval_results.json", {"per_example": [{"id": 1, "baseline": 5, "tuned": None}]})
    ev.write_json(packet / "manifest.json", {"files": [], "wall_times": 3, "dataset": "x", "model": []})
    results = ev.validate_packet(packet)
    assert not results["evaluation"].passed and not results["reproducibility"].passed
    assert isinstance(ev.format_report(results), str)


def test_check_gate_rejects_unknown_names(packet):
    with pytest.raises(ValueError, match="Unknown gate"):
        ev.check_gate("vibes", packet)
    assert ev.check_gate("rollback", packet).passed


def test_png_text_chunks_roundtrip(packet):
    chunks = ev.png_text_chunks((packet / "loss_curve.png").read_bytes())
    points = json.loads(chunks[ev.LOSS_POINTS_KEY])
    assert points["loss"][0] == [1, 2.9] and points["eval_loss"] == [[10, 2.5]]


def test_failure_candidates_prefer_regressions():
    rows = [
        {"id": "a", "baseline": {"score": 0.5}, "tuned": {"score": 0.9}},
        {"id": "b", "baseline": {"score": 0.8}, "tuned": {"score": 0.2}},
        {"id": "c", "baseline": {"score": 0.1}, "tuned": {"score": 0.3}},
        {"id": "d", "baseline": {"score": 0.6}, "tuned": {"score": 0.5}},
    ]
    assert [r["id"] for r in ev.failure_candidates(rows)] == ["b", "d", "c"]
