"""Lab 1's "check your understanding" questions. The answers live here, not in the notebook; they are marked with
workbook.ui.selfcheck.check like every chapter's self-check."""

from __future__ import annotations

from workbook.ui.selfcheck import check

QUIZ = {
    "q1": ("b", "a timestamped baseline from the same model is the only proof of the 'before' numbers."),
    "q2": ("a", "TRL casts LoRA weights of a quantized model to bf16; the fp16 grad scaler cannot unscale bf16."),
    "q3": ("b", "ROUGE-L rewards shared wording, so '30 hours' vs '72 hours' still scores high; key facts catch it."),
    "q4": ("b", "SFT on a small set teaches the facts it saw and the answer style; it does not add unseen knowledge."),
}


def check_answers(answers: dict[str, str | None]) -> int:
    """Print correct/incorrect and why for each answer ("" is not answered yet); return how many are correct."""
    correct = sum(check(key, answers.get(key) or None, expected, why) for key, (expected, why) in QUIZ.items())
    print(f"{correct}/{len(QUIZ)} correct")
    return correct
