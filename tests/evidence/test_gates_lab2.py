"""Lab 2's gates (workbook.evidence.gates_lab2): an honest section passes; one fault costs exactly one named check;
what the grader can re-derive is re-derived; hostile files give clear failures, never exceptions.

The packet is assessments.testing.simulate's: a Lab 1 packet with its Lab 2 section, chained by the real lineage.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from assessments.testing import simulate
from workbook.core.io import read_jsonl, write_json, write_jsonl
from workbook.evidence.gates import check_gate, validate_packet
from workbook.evidence.gates_lab2 import GATE_CHECKS
from workbook.evidence.report import format_report
from workbook.evidence.schema import AUTO_MARKER, LAB2_GATES


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab2") / "evidence"
    simulate.honest_packet_lab2(root, "alice")
    return root


@pytest.fixture
def section(pristine, tmp_path):
    """A fresh copy of the honest evidence folder; the Lab 2 section inside it."""
    return shutil.copytree(pristine, tmp_path / "evidence") / "lab2"


def _json(folder, name):
    return json.loads((folder / name).read_text())


def _edit(folder, name, change, refresh=True):
    data = _json(folder, name)
    change(data)
    write_json(folder / name, data)
    if refresh:
        simulate.refresh_section(folder)


def _failures(result):
    return " | ".join(result.failures)


def test_honest_section_passes_every_gate_with_full_credit(section):
    results = validate_packet(section, lab="lab2")
    assert list(results) == list(LAB2_GATES) == list(GATE_CHECKS)
    assert all(r.passed and r.score == 1.0 for r in results.values()), format_report(results)
    assert "7/7 gates passed" in format_report(results)
    # the evidence folder itself means the section inside it, for the self-check and check_gate alike
    assert validate_packet(section.parent, lab="lab2") == results
    assert check_gate("picks", section.parent) == results["picks"]


def _anonymous_pick(folder):
    rows = read_jsonl(folder / "picks.jsonl")
    rows[0]["annotator"] = ""
    write_jsonl(folder / "picks.jsonl", rows)


def _wrong_interval(folder):
    _edit(folder, "reward_model.json", lambda r: r["heldout"].update(ci95=[0.0, 1.0]))


def _lab1_manifest_rewritten(folder):
    simulate.lab1_edited_after_lab2(folder)


def _kl_against_the_base(folder):
    _edit(folder, "eval_results.json", lambda r: r["kl"].update(reference="base"))


def _refusal_flag(folder):
    simulate.dpo_refusal_flag_flipped(folder)


def _unknown_case(folder):
    with open(folder / "failure_analysis.md", "a") as fh:
        fh.write("\n## Case 4: pref-99\n\n**Explanation:** an explanation long enough to count as one.\n")


def _no_beta(folder):
    _edit(folder, "manifest.json", lambda m: m["hyperparameters"].pop("beta"), refresh=False)
    simulate.refresh_section(folder)


ONE_FAULT = {
    "picks": (_anonymous_pick, "provenance"),
    "reward_model": (_wrong_interval, "ci95"),
    "dpo_lineage": (_lab1_manifest_rewritten, "previous_link"),
    "dpo_evaluation": (_kl_against_the_base, "kl"),
    "dpo_regression": (_refusal_flag, "refusal_flags"),
    "dpo_failure_analysis": (_unknown_case, "known_ids"),
    "dpo_reproducibility": (_no_beta, "hyperparameters"),
}


def test_every_gate_has_a_one_fault_case():
    assert set(ONE_FAULT) == set(LAB2_GATES)
    assert all(check in GATE_CHECKS[gate] for gate, (_, check) in ONE_FAULT.items())


@pytest.mark.parametrize("gate", LAB2_GATES)
def test_one_fault_costs_exactly_one_documented_check(section, gate):
    damage, check = ONE_FAULT[gate]
    damage(section)
    result = check_gate(gate, section)
    assert result.score == round(1 - 1 / len(GATE_CHECKS[gate]), 3), result.failures
    assert len(result.failures) == 1, result.failures


def test_accuracy_and_baselines_are_re_derived(section):
    """An accuracy that agrees with itself is not enough: the per-pair rewards and the shipped texts decide."""
    def forge(record):
        for row in record["heldout"]["per_pair"]:
            row["reward_chosen"], row["reward_rejected"] = 1.0, 0.0
        record["baselines"]["longer_wins"] = 0.1
    _edit(section, "reward_model.json", forge)
    failures = _failures(check_gate("reward_model", section))
    assert "accuracy is" in failures and "longer_wins 0.6250" in failures


def test_a_note_explains_a_reward_model_that_loses_and_a_prefilled_one_earns_nothing(section):
    def lose(record):
        for row in record["heldout"]["per_pair"]:
            row["reward_chosen"], row["reward_rejected"] = 0.0, 1.0
        record["heldout"].update(accuracy=0.0, ci95=[0.0, 0.1380])
        record["beats_baselines"] = False
    _edit(section, "reward_model.json", lambda r: (lose(r), r.update(note="")))
    assert "`note` is empty" in _failures(check_gate("reward_model", section))
    _edit(section, "reward_model.json", lambda r: r.update(note=f"{AUTO_MARKER}\nThe reward model loses."))
    prefilled = check_gate("reward_model", section)
    assert prefilled.passed and prefilled.score == 0.875 and "pre-filled" in prefilled.notes[0]
    _edit(section, "reward_model.json", lambda r: r.update(note="Twelve picks cannot teach a linear head much."))
    assert check_gate("reward_model", section).score == 1.0


def test_picks_for_test_prompts_or_judged_twice_fail(section):
    rows = read_jsonl(section / "picks.jsonl")
    rows[0]["prompt"] = read_jsonl(simulate.COMPLIANCE_DIR / "locked_test.jsonl")[0]["question"]
    rows[1]["pair_id"] = rows[2]["pair_id"]
    write_jsonl(section / "picks.jsonl", rows)
    failures = _failures(check_gate("picks", section))
    assert "not questions of the shipped training set" in failures and "judges pairs twice" in failures


def test_win_rates_must_cover_the_right_items(section):
    def drop(results):
        results["win_rate"]["reward_model"]["per_prompt"].pop()
        results["win_rate"]["human_labels"]["per_pair"][0]["id"] = "pref-99"
    _edit(section, "eval_results.json", drop)
    failures = _failures(check_gate("dpo_evaluation", section))
    assert "win_rate.reward_model does not cover the 36 expected items" in failures
    assert "win_rate.human_labels does not cover the 24 expected items" in failures


def test_dpo_must_start_from_the_lab1_adapter_and_change_it(section):
    def graft(manifest):
        manifest["start_adapter"]["sha256"] = "a" * 64
        manifest["adapters"][-1]["sha256"] = "a" * 64
    _edit(section, "manifest.json", graft, refresh=False)
    simulate.refresh_section(section)
    failures = _failures(check_gate("dpo_lineage", section))
    assert "is not the adapter Lab 1 ended with" in failures and "differ from the Lab 1 adapter" in failures


def test_a_section_from_another_students_lab1_fails_lineage(section, tmp_path):
    other = tmp_path / "bob" / "evidence"
    simulate.honest_packet(other, "bob")
    shutil.copytree(section, other / "lab2")
    failures = _failures(check_gate("dpo_lineage", other / "lab2"))
    assert "Lab 1's manifest.json now hashes to" in failures and "differs from the Lab 1 packet's ('bob')" in failures


# ------------------------------------------------------------------------------------------------ hostile input


def _no_crash(results):
    for result in results.values():
        assert result.failures or result.score == 1.0
        assert all(isinstance(f, str) and "unexpected shape" not in f for f in result.failures), result.failures


def test_a_link_to_a_file_outside_the_section_is_never_followed(section, tmp_path):
    secret = tmp_path / "secret.jsonl"
    shutil.copy(section / "picks.jsonl", secret)  # a perfect file, but not in the packet
    (section / "picks.jsonl").unlink()
    os.symlink(secret, section / "picks.jsonl")
    results = validate_packet(section, lab="lab2")
    assert "picks.jsonl cannot be opened as a plain file" in _failures(results["picks"])
    assert results["picks"].score == 0.0
    _no_crash(results)


def test_a_linked_section_or_evidence_folder_is_refused(section, tmp_path):
    elsewhere = shutil.copytree(section, tmp_path / "elsewhere")
    shutil.rmtree(section)
    os.symlink(elsewhere, section)
    results = validate_packet(section, lab="lab2")
    assert all(r.score == 0 and "not a plain folder" in r.failures[0] for r in results.values())
    root = section.parent
    moved = root.rename(tmp_path / "real-evidence")
    os.symlink(moved, root)
    assert "not a plain folder" in check_gate("dpo_lineage", root / "lab2").failures[0]


def test_a_huge_file_a_fifo_and_non_json_give_clear_failures(section):
    with open(section / "eval_results.json", "wb") as fh:
        fh.truncate(21 * 2**20)  # sparse: 21 MiB read as zeros, were it read
    (section / "picks.jsonl").unlink()
    os.mkfifo(section / "picks.jsonl")
    (section / "reward_model.json").write_text("not json at all")
    (section.parent / "manifest.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    results = validate_packet(section, lab="lab2")
    assert "over the 20 MiB limit" in _failures(results["dpo_evaluation"])
    assert "picks.jsonl" in _failures(results["picks"]) and results["picks"].score == 0
    assert "reward_model.json is not valid JSON" in _failures(results["reward_model"])
    assert "nested too deeply" in _failures(results["dpo_lineage"])
    _no_crash(results)


def test_missing_section_and_missing_lab1_packet(section, tmp_path):
    results = validate_packet(tmp_path / "nowhere" / "lab2", lab="lab2")
    assert all("does not exist" in r.failures[0] for r in results.values())
    (section.parent / "manifest.json").unlink()
    assert "manifest.json is missing" in _failures(check_gate("dpo_lineage", section))


WRONG = (None, 1, "x", [], {}, [1, "a"], {"a": None})


@pytest.mark.parametrize("name", ["reward_model.json", "eval_results.json", "manifest.json", "environment.json"])
def test_any_value_of_the_wrong_type_is_a_failure_not_a_crash(section, name):
    """Every top-level and second-level value of each JSON file replaced by each wrong type in turn."""
    original = _json(section, name)
    paths = [(key,) for key in original] + [(key, sub) for key, value in original.items() if isinstance(value, dict)
                                            for sub in value]
    for path in paths:
        for wrong in WRONG:
            data = json.loads(json.dumps(original))
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            write_json(section / name, data)
            _no_crash(validate_packet(section, lab="lab2"))


def test_pick_rows_of_the_wrong_shape_are_failures(section):
    rows = read_jsonl(section / "picks.jsonl")
    for key in ("prompt", "chosen", "choice", "timestamp", "pair_id", "source"):
        for wrong in WRONG:
            write_jsonl(section / "picks.jsonl", [dict(rows[0], **{key: wrong}), *rows[1:]])
            _no_crash(validate_packet(section, lab="lab2"))


def test_the_command_reports_one_labs_section(section, capsys):
    from workbook.evidence.__main__ import main

    assert main([str(section.parent), "--lab", "lab2"]) == 0
    assert "7/7 gates passed" in capsys.readouterr().out
    simulate.dpo_few_failure_cases(section)
    assert main([str(section.parent), "--lab", "lab2"]) == 1
    assert main([str(section.parent)]) == 0  # Lab 1's packet is untouched
