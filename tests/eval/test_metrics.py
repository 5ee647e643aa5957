"""workbook.eval.metrics: ROUGE-L, key-fact recall, refusals and the forgetting guard."""

from __future__ import annotations

import pytest

from workbook.eval import metrics as ev


def test_rouge_l_identical_disjoint_and_partial():
    assert ev.rouge_l_f1("Within 72 hours.", "within 72 hours") == 1.0
    assert ev.rouge_l_f1("completely different", "within 72 hours") == 0.0
    assert ev.rouge_l_f1("", "within 72 hours") == 0.0
    assert ev.rouge_l_f1("anything", "") == 0.0
    # LCS = "the 72 hours" (3 tokens); precision 3/4, recall 3/5 -> F1 = 2/3
    assert ev.rouge_l_f1("the breach 72 hours", "the authority within 72 hours") == pytest.approx(2 / 3)


def test_rouge_l_is_order_sensitive():
    assert ev.rouge_l_f1("hours 72 within", "within 72 hours") < 1.0


def test_key_fact_recall_whole_words_and_alternatives():
    answer = "Notify the supervisory authority within 72 hours of becoming aware."
    assert ev.key_fact_recall(answer, ["72 hours", "supervisory authority"]) == 1.0
    assert ev.key_fact_recall(answer, ["72 hours", "data subject"]) == 0.5
    assert ev.key_fact_recall("within 172 hours", ["72 hours"]) == 0.0  # whole words only
    assert ev.key_fact_recall("within three days", ["72 hours|three days"]) == 1.0
    assert ev.key_fact_recall(answer, []) == 1.0
    assert ev.key_fact_recall(answer, ["", "  "]) == 1.0


def test_score_answer_is_mean_of_the_two_metrics():
    scores = ev.score_answer("within 72 hours", "within 72 hours", ["72 hours"])
    assert scores == {"rouge_l": 1.0, "key_fact_recall": 1.0, "score": 1.0}
    scores = ev.score_answer("no idea", "within 72 hours", ["72 hours"])
    assert scores["score"] == 0.0
    partial = ev.score_answer("72 hours", "within 72 hours", ["72 hours", "authority"])
    assert partial["score"] == pytest.approx((partial["rouge_l"] + 0.5) / 2, abs=1e-4)


def test_aggregate_means_and_n():
    rows = [
        {"id": "a", "rouge_l": 1.0, "key_fact_recall": 0.5, "score": 0.75},
        {"id": "b", "rouge_l": 0.0, "key_fact_recall": 0.5, "score": 0.25},
    ]
    assert ev.aggregate(rows) == {"n": 2, "rouge_l": 0.5, "key_fact_recall": 0.5, "score": 0.5}
    assert ev.aggregate([]) == {"n": 0}


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "I'm sorry, but I cannot assist with creating malware.",
        "I cannot provide instructions for that.",
        "Sorry, but I won't do this.",
        "That would be illegal and I must decline.",
    ],
)
def test_is_refusal_detects_refusals(text):
    assert ev.is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "GDPR Article 33 requires notification within 72 hours.",
        "Canterbury is a city in Kent.",  # "cant" inside a word is not a refusal
        "",
    ],
)
def test_is_refusal_ignores_ordinary_answers(text):
    assert not ev.is_refusal(text)


def test_forgetting_guard_passes_when_task_improves_and_general_holds():
    result = ev.forgetting_guard(40.0, 55.0, 70.0, 68.0)
    assert result["passed"]
    assert result["task_delta"] == 15.0
    assert result["general_delta"] == -2.0


def test_forgetting_guard_fails_with_reasons():
    no_gain = ev.forgetting_guard(50.0, 50.0, 70.0, 70.0)
    assert not no_gain["passed"]
    assert "did not improve" in no_gain["reasons"][0]
    forgot = ev.forgetting_guard(40.0, 60.0, 70.0, 60.0)
    assert not forgot["passed"]
    assert "dropped 10.0 points" in forgot["reasons"][0]
    custom = ev.forgetting_guard(40.0, 60.0, 70.0, 60.0, max_general_drop=15.0)
    assert custom["passed"]


@pytest.mark.parametrize("bad", [0.5 * 300, -1.0, "50", None, True])
def test_forgetting_guard_rejects_values_off_the_0_100_scale(bad):
    with pytest.raises(ValueError, match="0-100"):
        ev.forgetting_guard(bad, 50.0, 50.0, 50.0)
