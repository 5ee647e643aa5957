"""Lab 3's gates (workbook.evidence.gates_lab3): an honest section passes; one fault costs exactly one named check;
sizes, hashes, parity scores, the decision, percentiles, the card's numbers and the drill are re-derived; hostile
files give clear failures, never exceptions.

The packet is assessments.testing.simulate's: Lab 1's packet with its Lab 2 and Lab 3 sections, chained.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from assessments.testing import simulate
from workbook.core.io import write_json
from workbook.evidence.gates import check_gate, validate_packet
from workbook.evidence.gates_lab3 import GATE_CHECKS, card_sections, front_matter
from workbook.evidence.report import format_report
from workbook.evidence.schema import LAB3_GATES, MODEL_CARD_KEYS, MODEL_CARD_SECTIONS
from workbook.evidence.tally import shown_numbers, shows


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab3") / "evidence"
    simulate.honest_packet_lab3(root, "alice")
    return root


@pytest.fixture
def section(pristine, tmp_path):
    return shutil.copytree(pristine, tmp_path / "evidence") / "lab3"


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
    results = validate_packet(section, lab="lab3")
    assert list(results) == list(LAB3_GATES) == list(GATE_CHECKS)
    assert all(r.passed and r.score == 1.0 for r in results.values()), format_report(results)
    assert validate_packet(section.parent, lab="lab3") == results


def test_the_labs_card_reads_as_the_hub_expects(section):
    card = (section / "model_card.md").read_text()
    meta = front_matter(card)
    assert set(MODEL_CARD_KEYS) <= set(meta) and all(meta[k] for k in MODEL_CARD_KEYS)
    sections = card_sections(card)
    assert all(any(h.startswith(name) for h in sections) for name in MODEL_CARD_SECTIONS)


def test_numbers_are_found_as_shown():
    numbers = shown_numbers("score 0.412, win rate 62.5%, p95 1238 ms, KL 3.40e-05, step 2")
    assert shows(numbers, 0.4123) and shows(numbers, 0.625) and shows(numbers, 1238.04) and shows(numbers, 3.4e-5)
    assert not shows(numbers, 0.43) and not shows(numbers, 1.6)  # a whole "2" is not 1.6


def _wrong_converter(folder):
    _edit(folder, "export.json", lambda e: e.update(converter="some tool"))


def _slow_first_token(folder):
    _edit(folder, "server.json", lambda s: s.update(first_token_s=s["ready_s"] / 2))


def _reason_without_numbers(folder):
    _edit(folder, "parity.json", lambda p: p["decision"].update(reason=f"{p['decision']['chosen']} is fine."))


def _card_without_a_hash(folder):
    sha = _json(folder, "export.json")["previous_version"]["sha256"]
    path = folder / "model_card.md"
    path.write_text(path.read_text().replace(sha, "(see export.json)"))
    simulate.refresh_section(folder, card=False)


def _untimed(folder):
    simulate.drill_untimed(folder)


def _wall_times(folder):
    _edit(folder, "manifest.json", lambda m: m.update(wall_times={}), refresh=False)
    simulate.refresh_section(folder)


ONE_FAULT = {
    "export_integrity": (_wrong_converter, "converter"),
    "server": (_slow_first_token, "timings"),
    "quantization_decision": (_reason_without_numbers, "reason"),
    "model_card": (_card_without_a_hash, "hashes"),
    "rollback_drill": (_untimed, "timings"),
    "ship_reproducibility": (_wall_times, "wall_times"),
}


def test_every_gate_has_a_one_fault_case():
    assert set(ONE_FAULT) == set(LAB3_GATES)
    assert all(check in GATE_CHECKS[gate] for gate, (_, check) in ONE_FAULT.items())


@pytest.mark.parametrize("gate", LAB3_GATES)
def test_one_fault_costs_exactly_one_documented_check(section, gate):
    damage, _ = ONE_FAULT[gate]
    damage(section)
    result = check_gate(gate, section)
    assert result.score == round(1 - 1 / len(GATE_CHECKS[gate]), 3), result.failures
    assert len(result.failures) == 1, result.failures


def test_a_failing_quantization_cannot_be_declared_passing(section):
    """Q4_K_M answers made worse but still marked passing (with a rescored aggregate): the gate re-derives it."""
    def degrade(parity):
        from workbook.eval.metrics import score_answer

        rows = {r["id"]: r for r in simulate.read_jsonl(simulate.COMPLIANCE_DIR / "locked_test.jsonl")}
        variant = parity["variants"]["Q4_K_M"]
        for row in variant["per_example"]:
            row["answer"] = "I do not know."
            row["score"] = score_answer(row["answer"], rows[row["id"]]["answer"], rows[row["id"]]["key_facts"])["score"]
        variant["aggregate"]["score"] = round(sum(r["score"] for r in variant["per_example"]) / len(rows), 4)
    _edit(section, "parity.json", degrade)
    failures = _failures(check_gate("quantization_decision", section))
    assert "passes_task_gate is wrong for Q4_K_M" in failures and "smallest file that passes the task gate is Q8_0" \
        in failures


def test_a_loosened_task_gate_fails(section):
    _edit(section, "parity.json", lambda p: p["task_gate"].update(max_drop=0.5))
    assert "max_drop 0.03" in _failures(check_gate("quantization_decision", section))


def test_a_server_off_localhost_or_serving_another_file_fails(section):
    def move(server):
        server["host"] = "0.0.0.0"
        server["command"][server["command"].index("--host") + 1] = "0.0.0.0"
        server["model_sha256"] = "b" * 64
    _edit(section, "server.json", move)
    failures = _failures(check_gate("server", section))
    assert "server on 127.0.0.1" in failures and "none of the GGUF files" in failures


def test_tokens_per_second_must_follow_from_the_run(section):
    _edit(section, "server.json", lambda s: s["load_test"].update(tokens_per_s=s["load_test"]["tokens_per_s"] * 3))
    assert "tokens_per_s" in _failures(check_gate("server", section))


def test_a_rollback_to_another_file_fails(section):
    _edit(section, "rollback_drill.json", lambda d: d["steps"][0]["to"].update(sha256="c" * 64))
    failures = _failures(check_gate("rollback_drill", section))
    assert "previous_version" in failures


def test_probes_that_disagree_fail_even_when_marked_matching(section):
    _edit(section, "rollback_drill.json", lambda d: d["steps"][1]["probes"][0].update(answer="something else"))
    assert "probes" in _failures(check_gate("rollback_drill", section))


def test_the_export_must_be_lab2s_adapter(section):
    _edit(section, "export.json", lambda e: e["source"]["adapter"].update(sha256="d" * 64))
    assert "not the DPO adapter Lab 2's manifest lists last" in _failures(check_gate("export_integrity", section))


# ------------------------------------------------------------------------------------------------ hostile input


def _no_crash(results):
    for result in results.values():
        assert result.failures or result.score == 1.0
        assert all(isinstance(f, str) and "unexpected shape" not in f for f in result.failures), result.failures


def test_links_fifos_huge_and_non_json_files_give_clear_failures(section, tmp_path):
    outside = tmp_path / "server.json"
    shutil.copy(section / "server.json", outside)
    (section / "server.json").unlink()
    os.symlink(outside, section / "server.json")
    (section / "model_card.md").unlink()
    os.mkfifo(section / "model_card.md")
    with open(section / "parity.json", "wb") as fh:
        fh.truncate(25 * 2**20)
    (section / "export.json").write_bytes(b"\xff\xfe not utf-8")
    results = validate_packet(section, lab="lab3")
    assert "server.json cannot be opened as a plain file" in _failures(results["server"])
    assert "model_card.md" in _failures(results["model_card"]) and results["model_card"].score == 0
    assert "over the 20 MiB limit" in _failures(results["quantization_decision"])
    assert "export.json is not UTF-8" in _failures(results["export_integrity"])
    _no_crash(results)


def test_the_lab2_section_is_needed_and_never_followed_through_a_link(section, tmp_path):
    lab2 = section.parent / "lab2"
    moved = lab2.rename(tmp_path / "lab2")
    os.symlink(moved, lab2)
    results = validate_packet(section, lab="lab3")
    assert all("not a plain folder" in r.failures[0] for r in results.values())


WRONG = (None, 1, "x", [], {}, [1, "a"], {"a": None})


@pytest.mark.parametrize("name", ["export.json", "parity.json", "server.json", "rollback_drill.json", "manifest.json"])
def test_any_value_of_the_wrong_type_is_a_failure_not_a_crash(section, name):
    original = _json(section, name)
    paths = [(key,) for key in original] + [(key, sub) for key, value in original.items() if isinstance(value, dict)
                                            for sub in value]
    paths += [("steps", 0, key) for key in original.get("steps", [{}])[0]] if name == "rollback_drill.json" else []
    paths += [("files", 0, key) for key in original.get("files", [{}])[0]] if name == "export.json" else []
    for path in paths:
        for wrong in WRONG:
            data = json.loads(json.dumps(original))
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            write_json(section / name, data)
            _no_crash(validate_packet(section, lab="lab3"))


def test_a_card_without_front_matter_or_sections(section):
    (section / "model_card.md").write_text("# A card\n\nNothing else.\n---\n")
    failures = _failures(check_gate("model_card", section))
    assert "front matter" in failures and "## Intended use" in failures


def test_the_later_labs_gates_import_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, workbook.evidence.gates_lab2, workbook.evidence.gates_lab3\n"
            "print(sorted({'torch', 'transformers', 'matplotlib', 'yaml'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
