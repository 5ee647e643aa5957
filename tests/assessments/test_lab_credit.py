"""Exact partial credit and gate facts re-derived from trusted data (issue 14: deliver 3, finding 4).

Each gate documents its checks (`GATE_CHECKS`); one fault, however many files or rows it touches, costs exactly
one of them. Facts the grader already holds (the locked rows, the prompt sets, the training log) are re-derived,
so a packet that merely agrees with itself is not enough. Near-copies (another student's packet with the id
changed and every time shifted) are found, not only byte copies.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import pytest

from assessments import integrity
from assessments.testing import simulate
from workbook.core.io import read_jsonl, write_json, write_jsonl
from workbook.evidence.gates import GATE_CHECKS, check_gate
from workbook.evidence.schema import GATES


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return simulate.honest_packet(tmp_path_factory.mktemp("credit") / "evidence", "alice")


@pytest.fixture
def packet(pristine, tmp_path):
    folder = tmp_path / "evidence"
    shutil.copytree(pristine, folder)
    return folder


def _json(folder, name):
    return json.loads((folder / name).read_text())


def _edit(folder, name, change):
    data = _json(folder, name)
    change(data)
    write_json(folder / name, data)
    simulate.refresh_manifest(folder)


def _drop_torch(folder):
    _edit(folder, "environment.json", lambda env: env["packages"].pop("torch"))


def _one_unanswered_baseline(folder):
    rows = read_jsonl(folder / "baseline.jsonl")
    rows[0]["answer"] = None
    write_jsonl(folder / "baseline.jsonl", rows)
    simulate.refresh_manifest(folder)


def _one_tuned_score_edited(folder):
    _edit(folder, "eval_results.json", lambda r: r["per_example"][0]["tuned"].update(key_fact_recall=0.123))


def _one_refusal_flag_flipped(folder):
    def flip(results):
        row = results["regression"]["refusal"]["tuned"]["per_example"][0]
        row["refused"] = not row["refused"]
    _edit(folder, "eval_results.json", flip)


def _two_files_changed_after_the_manifest(folder):
    with open(folder / "data_card.md", "a") as fh:
        fh.write("edited\n")
    env = _json(folder, "environment.json")
    env["note"] = "edited"
    write_json(folder / "environment.json", env)


def _an_unknown_case_cited(folder):
    with open(folder / "failure_analysis.md", "a") as fh:
        fh.write("\n## Case 4: not-a-locked-id\n\n**Explanation:** an explanation long enough to count.\n")
    simulate.refresh_manifest(folder)


def _two_adapters_missing_from_rollback(folder):
    def add(manifest):
        manifest["adapters"] = [dict(a, sha256=c * 64) for a, c in zip(manifest["adapters"] * 2, "ab", strict=False)]
    _edit(folder, "manifest.json", add)


ONE_FAULT = {
    "environment": (_drop_torch, "packages"),
    "baseline": (_one_unanswered_baseline, "answers"),
    "evaluation": (_one_tuned_score_edited, "tuned_scores"),
    "regression": (_one_refusal_flag_flipped, "refusal_flags"),
    "reproducibility": (_two_files_changed_after_the_manifest, "files"),
    "failure_analysis": (_an_unknown_case_cited, "known_ids"),
    "rollback": (_two_adapters_missing_from_rollback, "adapters_documented"),
}


def test_every_gate_has_a_one_fault_case():
    assert set(ONE_FAULT) == set(GATES) == set(GATE_CHECKS)
    assert all(check in GATE_CHECKS[gate] for gate, (_, check) in ONE_FAULT.items())


@pytest.mark.parametrize("gate", GATES)
def test_one_fault_costs_exactly_one_documented_check(packet, gate):
    assert check_gate(gate, packet).score == 1.0
    damage, _ = ONE_FAULT[gate]
    damage(packet)
    result = check_gate(gate, packet)
    assert result.score == round(1 - 1 / len(GATE_CHECKS[gate]), 3), result.failures
    assert len(result.failures) == 1, result.failures


def test_an_unreadable_file_fails_every_check_that_needs_it(packet):
    (packet / "environment.json").write_text("{broken")
    result = check_gate("environment", packet)
    assert result.score == 0.0 and len(result.failures) == 1


def test_references_come_from_the_locked_rows_not_the_packet(packet):
    """Easier references written into the packet, with scores recomputed against them, do not pass."""
    from workbook.eval.metrics import aggregate, score_answer

    def forge(results):
        for row in results["per_example"]:
            row["reference"] = row["tuned"]["answer"]
            row["tuned"].update(score_answer(row["tuned"]["answer"], row["reference"], row["key_facts"]))
        sides = [r["tuned"] for r in results["per_example"]]
        results["aggregate"]["tuned"] = aggregate(
            [{k: v for k, v in side.items() if k not in ("answer", "facts_found")} for side in sides])
    _edit(packet, "eval_results.json", forge)
    failures = " ".join(check_gate("evaluation", packet).failures)
    assert "references or key facts differ from the locked test set" in failures


def test_training_start_is_the_training_logs_not_only_the_manifests(packet):
    """A manifest claiming training started later than the log's first entry cannot excuse a late baseline."""
    log = read_jsonl(packet / "training_log.jsonl")
    first = min(datetime.fromisoformat(r["logged_at"]) for r in log)
    rows = read_jsonl(packet / "baseline.jsonl")
    for i, row in enumerate(rows):
        row["timestamp"] = (first + timedelta(seconds=5 + i)).isoformat()
    write_jsonl(packet / "baseline.jsonl", rows)
    claimed = (first + timedelta(hours=1)).isoformat()
    _edit(packet, "manifest.json", lambda m: m["wall_times"].update(training_started_at=claimed))
    failures = " ".join(check_gate("baseline", packet).failures)
    assert "after training started (the first training_log.jsonl entry" in failures


def test_regression_scores_are_recomputed_from_the_answers(packet):
    def inflate(results):
        for row in results["regression"]["general"]["tuned"]["per_example"]:
            row["answer"] = "I do not know."  # the answers got worse, the recorded scores did not
    _edit(packet, "eval_results.json", inflate)
    failures = " ".join(check_gate("regression", packet).failures)
    assert "regression.general scores are not what the answers earn" in failures


def test_a_copy_with_the_id_changed_and_times_shifted_is_found(packet, tmp_path):
    bob = tmp_path / "bob" / "evidence"
    shutil.copytree(packet, bob)

    def shift(value):
        return (datetime.fromisoformat(value) + timedelta(seconds=7)).isoformat()
    for name, key in (("baseline.jsonl", "timestamp"), ("training_log.jsonl", "logged_at")):
        rows = read_jsonl(bob / name)
        write_jsonl(bob / name, [dict(r, **{key: shift(r[key])}) if key in r else r for r in rows])
    _edit(bob, "manifest.json", lambda m: m.update(student_id="bob"))
    packets = {"alice": packet, "bob": bob}
    assert integrity.find_copies(packets) == {}  # no byte is shared...
    assert integrity.find_near_copies(packets) == {"alice": ["bob"], "bob": ["alice"]}  # ...the run's rhythm is
    carol = simulate.honest_packet(tmp_path / "carol" / "evidence", "carol")
    assert integrity.find_near_copies({"alice": packet, "carol": carol}) == {}


def test_a_reworded_copy_is_found_by_its_content_and_honest_runs_are_not(packet, tmp_path):
    """Copied packet, id changed, every time shifted by its own amount (no shared rhythm left), a few words of each
    explanation reworded: its explanations are still near-identical to the original's. Two students who each
    wrote their own are not flagged, although their seeded runs gave the same model answers."""
    bob = tmp_path / "bob" / "evidence"
    shutil.copytree(packet, bob)
    for name, key in (("baseline.jsonl", "timestamp"), ("training_log.jsonl", "logged_at")):
        rows = read_jsonl(bob / name)
        write_jsonl(bob / name, [dict(r, **{key: (datetime.fromisoformat(r[key]) + timedelta(
            seconds=7 + 0.37 * i * i)).isoformat()}) if key in r else r for i, r in enumerate(rows)])
    text = (bob / "failure_analysis.md").read_text()
    for old, new in (("the", "this"), ("model", "network"), ("training", "fine-tuning")):
        text = text.replace(f" {old} ", f" {new} ", 2)
    (bob / "failure_analysis.md").write_text(text.replace("alice", "bob"))
    _edit(bob, "manifest.json", lambda m: m.update(student_id="bob"))
    packets = {"alice": packet, "bob": bob}
    assert integrity.find_copies(packets) == {} and integrity.find_near_copies(packets) == {}  # bytes, rhythm: no
    similar = integrity.find_similar_writing(packets)
    assert set(similar) == {"alice", "bob"} and 0.9 <= similar["alice"]["bob"] < 1.0, similar
    carol = simulate.honest_packet(tmp_path / "carol" / "evidence", "carol")
    dave = simulate.honest_packet(tmp_path / "dave" / "evidence", "dave")
    honest = {"alice": packet, "carol": carol, "dave": dave}
    assert read_jsonl(carol / "baseline.jsonl")[0]["answer"] == read_jsonl(packet / "baseline.jsonl")[0]["answer"]
    assert integrity.find_similar_writing(honest) == {}


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"[" * 100_000 + b"]" * 100_000, b'{"files": [1, 2]}'])
def test_the_trusted_recheck_survives_any_manifest(packet, content):
    """What once crashed export for the whole class is now one failing gate, with the reason."""
    from assessments.regrade import gate_score

    (packet / "manifest.json").write_bytes(content)
    results = {gate: gate_score(gate, packet, None, "alice") for gate in GATES}
    assert results["reproducibility"].score < 1 and results["reproducibility"].failures
    assert all("Traceback" not in f for r in results.values() for f in r.failures)
