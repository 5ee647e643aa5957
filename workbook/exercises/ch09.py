"""Chapter 09's exercises: the curation checklist, the answer metric, the forgetting guard and RAFT rows, on the
chapter's own data and models."""

from __future__ import annotations

from workbook.eval.metrics import forgetting_guard, key_fact_recall
from workbook.exercises import Exercise
from workbook.topics.curation import Curator, jaccard, shingles


def _text(row) -> str:
    return f"{row['instruction']} {row['response']}"


def _closest_to_test(cleaned, test) -> float:
    return max(jaccard(shingles(_text(row)), shingles(_text(t))) for row in cleaned for t in test)


def _chat_tokens(tok, row) -> int:
    return len(tok.apply_chat_template(row["prompt"] + row["completion"], tokenize=True)["input_ids"])


EXERCISES = {
    1: Exercise(
        "how many rows the curated set keeps with Curator(min_response_words=10)",
        lambda noisy, test: len(Curator(min_response_words=10).curate(noisy, test).kept),
        "Run `Curator(min_response_words=10).curate(noisy, test)` and count `report.kept`; the table it prints shows "
        "which step removes more rows than before (and some of them were good, short answers).",
    ),
    2: Exercise(
        "the highest Jaccard similarity between any row of `cleaned` and any test row",
        _closest_to_test,
        "Compare every cleaned row with every test row: `jaccard(shingles(a), shingles(b))` on the instruction and "
        "response joined by a space (as the curator does), and take the maximum. It must be below leak_threshold.",
        tol=1e-6,
    ),
    3: Exercise(
        "a function fact_recall(prediction, key_facts) that returns the share of key facts the prediction states",
        key_fact_recall,
        "Normalise both texts with `workbook.topics.text.normalize`; a fact counts when it appears as whole words "
        "(pad both with spaces), a fact 'a|b' counts when either alternative does, and no facts at all gives 1.0.",
        tol=1e-6,
        cases=(
            ("Notify the supervisory authority within 72 hours.", ["72 hours", "supervisory authority"]),
            ("They have 172 hours.", ["72 hours"]),
            ("It takes three days.", ["72 hours|three days"]),
            ("The fine is up to 4% of turnover, or EUR 20,000,000.", ["4%", "20,000,000", "Article 83"]),
            ("Anything at all.", []),
        ),
    ),
    4: Exercise(
        "a function ships(task_before, task_after, general_before, general_after) implementing the forgetting guard",
        lambda tb, ta, gb, ga: forgetting_guard(tb, ta, gb, ga)["passed"],
        "Ship only when the task score rose (strictly) and the general score fell by no more than 3 points "
        "(a drop of exactly 3 still ships). Return True or False.",
        cases=((40, 55, 70, 61), (40, 55, 70, 67), (40, 55, 70, 66.9), (50, 50, 70, 75), (50, 51, 70, 70),
               (10, 9, 60, 80)),
    ),
    5: Exercise(
        "how many tokens the longest row of `raft_train` takes through the chat template (prompt + completion)",
        lambda raft_train, tok: max(_chat_tokens(tok, row) for row in raft_train),
        "For each row, `tok.apply_chat_template(row['prompt'] + row['completion'], tokenize=True)['input_ids']`; "
        "take the longest. Compare it with the max_length the RAFT adapter was trained with.",
    ),
    6: Exercise(
        "the fine-tuned model's mean key-fact recall over its general-knowledge answers (0..1)",
        lambda tuned_eval: sum(key_fact_recall(a["answer"], a["key_facts"]) for a in tuned_eval["general answers"])
        / len(tuned_eval["general answers"]),
        "Each row of `tuned_eval['general answers']` has the model's 'answer' and the row's 'key_facts': average "
        "`key_fact_recall(answer, key_facts)` over them.",
        tol=1e-6,
    ),
}
