"""Lab 2's logic (workbook.labs.preference_lab) and its held-out human pairs: the data file, the scripted annotator,
the strict picks reader (a bad file stops the lab and is never touched), the reward-model record the gates
re-derive, and (on the tiny random Llama) the adapter copy and the KL to the reference adapter."""

from __future__ import annotations

import json
import shutil

import pytest

from workbook.core.io import read_jsonl, write_jsonl
from workbook.evidence.gates import check_gate
from workbook.evidence.schema import AUTO_MARKER, PICKS_SOURCE
from workbook.labs.data import COMPLIANCE_DIR, load_compliance
from workbook.labs.preference_lab import (
    PAIR_FIELDS,
    SCRIPTED_ANNOTATOR,
    PicksFileError,
    annotate,
    check_picks,
    load_human_pairs,
    more_key_facts,
    pair_id,
    pair_prompts,
    prefilled_note,
    reward_model_record,
)
from workbook.topics.preferences import CandidatePair, PreferenceSession

FLAWS = {"wrong number", "wrong deadline", "vague", "over-refusal", "harmful help", "padded"}


def test_human_pairs_are_held_out_labelled_and_registered():
    pairs = load_human_pairs()
    assert 20 <= len(pairs) <= 30
    assert len({p["id"] for p in pairs}) == len(pairs)
    assert all(set(PAIR_FIELDS) <= set(p) and p["split"] == "test" and p["flaw"] in FLAWS for p in pairs)
    assert all(p["chosen"] != p["rejected"] for p in pairs)
    assert {p["flaw"] for p in pairs} == FLAWS
    data = load_compliance()
    questions = {row["question"].lower() for rows in data.values() for row in rows}
    assert not questions & {p["prompt"].lower() for p in pairs}, "a held-out prompt is one of the dataset's questions"
    manifest = json.loads((COMPLIANCE_DIR / "manifest.json").read_text())
    assert manifest["files"]["preference_pairs.jsonl"]["n"] == len(pairs)


def test_a_changed_human_pairs_file_is_refused(tmp_path):
    folder = shutil.copytree(COMPLIANCE_DIR, tmp_path / "compliance")
    rows = read_jsonl(folder / "preference_pairs.jsonl")
    rows[0]["chosen"], rows[0]["rejected"] = rows[0]["rejected"], rows[0]["chosen"]
    write_jsonl(folder / "preference_pairs.jsonl", rows)
    with pytest.raises(ValueError, match="preference_pairs.jsonl"):
        load_human_pairs(folder)


def test_pair_prompts_take_one_question_per_fact_group_and_the_topics_in_turn():
    train = load_compliance()["train"]
    rows = pair_prompts(train, 8)
    assert len(rows) == 8 and len({r["fact_group"] for r in rows}) == 8
    assert len({r["topic"] for r in rows[:5]}) == 5
    assert len(pair_prompts(train, 1000)) == len({r["fact_group"] for r in train})


def pair(a, b, facts=("72 hours",), number=1):
    row = {"id": f"gdpr-0{number}a"}
    return CandidatePair(pair_id(row), f"question {number}?", a, b, PICKS_SOURCE, meta={"key_facts": list(facts)})


def test_the_scripted_annotator_prefers_key_facts_then_falls_back_to_chapter_03s_rule():
    assert more_key_facts(pair("Report it to the authority.", "Report it within 72 hours.")) == "B"
    assert more_key_facts(pair("Within 72 hours.", "Within a week.")) == "A"
    assert more_key_facts(pair("Within a week.", "")) == "skip"  # no facts either way: chapter 03's rule
    assert more_key_facts(pair("Soon, soon, soon, soon.", "Within a week, by law.")) == "B"


def test_annotate_names_the_scripted_annotator_and_keeps_your_picks(tmp_path):
    pairs = [pair("Within 72 hours.", "Later.", number=n) for n in range(1, 4)]
    session = PreferenceSession(pairs, tmp_path / "picks.jsonl", annotator="you")
    session.pick("B")  # your own pick, against the rule
    made = annotate(session, more_key_facts, SCRIPTED_ANNOTATOR)
    rows = check_picks(tmp_path / "picks.jsonl")
    assert [r["annotator"] for r in rows] == ["you", SCRIPTED_ANNOTATOR, SCRIPTED_ANNOTATOR]
    assert [r["choice"] for r in rows] == ["B", "A", "A"] and len(made) == 2
    assert session.annotator == "you"


def good_pick(number=1, **changes):
    return {
        "prompt": f"question {number}?", "chosen": "Within 72 hours.", "rejected": "Later.", "source": PICKS_SOURCE,
        "annotator": "you", "timestamp": "2025-01-01T10:00:00+00:00", "pair_id": f"lab1-gdpr-0{number}a",
        "choice": "A", **changes,
    }  # fmt: skip


def test_check_picks_reads_a_good_file_and_none_before_the_first_pick(tmp_path):
    assert check_picks(tmp_path / "picks.jsonl") == []
    write_jsonl(tmp_path / "picks.jsonl", [good_pick(1), good_pick(2, choice="tie", chosen=None, rejected=None)])
    assert [r["choice"] for r in check_picks(tmp_path / "picks.jsonl")] == ["A", "tie"]


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ('{"prompt": "cut short', "line 2"),
        (good_pick(2, choice="C"), "is not one of"),
        (good_pick(2, rejected="Within 72 hours."), "two different, non-empty answers"),
        (good_pick(2, choice="tie"), "keeps chosen and rejected empty"),
        (good_pick(1), "already judged"),
        (good_pick(2, source="shipped"), "not 'lab1-model'"),
        (good_pick(2, annotator=""), "no annotator"),
        (good_pick(2, timestamp="yesterday"), "not an ISO 8601 time"),
        ({k: v for k, v in good_pick(2).items() if k != "choice"}, "missing keys"),
    ],
)
def test_a_bad_picks_file_stops_with_the_reason_and_is_left_untouched(tmp_path, second, reason):
    path = tmp_path / "picks.jsonl"
    lines = [json.dumps(good_pick(1)), second if isinstance(second, str) else json.dumps(second)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(PicksFileError, match=reason) as error:
        check_picks(path)
    assert "left exactly as it is" in str(error.value)
    assert path.read_bytes() == before


def test_the_reward_model_record_passes_the_gate_that_re_derives_it(tmp_path):
    section = tmp_path / "evidence" / "lab2"
    session = PreferenceSession([pair("Within 72 hours.", "Later.", number=n) for n in range(1, 6)],
                                section / "picks.jsonl")
    annotate(session, more_key_facts, SCRIPTED_ANNOTATOR)
    pairs = load_human_pairs()
    n = len(pairs)
    record = reward_model_record(pairs, [1.0] * n, [0.0] * (n - 2) + [2.0, 2.0], [-5.0] * n, [-4.0] * n, 5, "test")
    assert record["heldout"]["accuracy"] == round((n - 2) / n, 4)
    assert record["baselines"]["base_logprob"] == 0.0 and record["beats_baselines"] is True
    record["note"] = prefilled_note(record)
    assert record["note"].startswith(AUTO_MARKER) and "n=24" in record["note"]
    (section / "reward_model.json").write_text(json.dumps(record))
    result = check_gate("reward_model", section)
    assert result.passed and result.score == 1.0, result.failures


def test_copy_adapter_and_kl_to_the_reference_adapter(tiny_llama):
    peft = pytest.importorskip("peft")
    import torch

    from workbook.labs.preference_lab import (
        POLICY,
        REFERENCE,
        active_adapter,
        adapter_gap,
        copy_adapter,
        kl_to_reference,
    )

    base, tokenizer = tiny_llama
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    model = peft.get_peft_model(base, lora)
    model.add_adapter(REFERENCE, lora)  # as DPOTrainer does, with other (random) weights
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    prompts, answers = ["What is 2 + 2?", "Name a colour."], ["It is 4.", "Blue."]
    assert adapter_gap(model, POLICY, REFERENCE) > 0
    assert kl_to_reference(model, tokenizer, prompts, answers) > 0
    copy_adapter(model, REFERENCE, POLICY)
    assert adapter_gap(model, POLICY, REFERENCE) == 0
    assert kl_to_reference(model, tokenizer, prompts, answers) == pytest.approx(0.0, abs=1e-7)
    with active_adapter(model, REFERENCE):
        assert model.active_adapter == REFERENCE
    assert model.active_adapter == POLICY
    with pytest.raises(ValueError, match="no adapter named"):
        adapter_gap(model, "missing", REFERENCE)
