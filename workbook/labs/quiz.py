"""Lab 1's "check your understanding" questions. The answers live here, not in the notebook. A right answer is
confirmed with the reason; a wrong one gets a pointer to the section that answers it, not the answer."""

from __future__ import annotations

from workbook.exercises import is_correct

QUIZ = {  # question: (answer, why it is right, where the lab shows it)
    "q1": ("b", "a timestamped baseline from the same model is the only proof of the 'before' numbers.", "section 5"),
    "q2": ("a", "TRL casts LoRA weights of a quantized model to bf16; the fp16 grad scaler cannot unscale bf16.",
           "section 6, the precision policy"),
    "q3": ("b", "ROUGE-L rewards shared wording, so '30 hours' vs '72 hours' still scores high; key facts catch it.",
           "section 7, the metric check"),
    "q4": ("b", "SFT on a small set teaches the facts it saw and the answer style; it does not add unseen knowledge.",
           "section 7, the paraphrase and unseen rows"),
}


def check_answers(answers: dict[str, str | None]) -> int:
    """Print correct/incorrect for each answer ("" is not answered yet); return how many are correct."""
    correct = 0
    for key, (expected, why, where) in QUIZ.items():
        answer = answers.get(key) or None
        if answer is None:
            print(f"[ ] {key}: not answered yet. Replace the placeholder with your answer and run the cell again.")
        elif is_correct(answer, expected):
            correct += 1
            print(f"[correct] {key}: {answer!r}. {why}")
        else:
            print(f"[incorrect] {key}: {answer!r} is not it. Reread {where}.")
    print(f"{correct}/{len(QUIZ)} correct")
    return correct
