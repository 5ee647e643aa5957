"""Retrieval-Augmented Fine-Tuning (RAFT) examples: a question, a shuffled set of documents (the oracle that
holds the answer plus distractors, or distractors only), and a cite-then-answer target.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

NO_ORACLE = "None of the documents answers this."


def format_context(docs: Sequence[dict[str, Any]]) -> str:
    """Documents as the model sees them: `[d03] Title: text`, one per paragraph."""
    return "\n\n".join(f"[{d['id']}] {d['title']}: {d['text']}" for d in docs)


def prompt_with_context(question: str, docs: Sequence[dict[str, Any]]) -> str:
    """The user message: documents first, then the question and the instruction to cite."""
    return (
        f"Documents:\n{format_context(docs)}\n\nQuestion: {question}\n"
        "Quote the sentence that answers it, with its document id, then answer."
    )


def cite_then_answer(row: dict[str, Any], oracle_present: bool) -> str:
    """The RAFT target: a quote with its source, then the answer; without the oracle, say so, then answer."""
    if oracle_present:
        return f'Quote [{row["oracle_doc"]}]: "{row["quote"]}"\nAnswer: {row["answer"]}'
    return f"{NO_ORACLE}\nAnswer from memory: {row['answer']}"


def sample_docs(
    row: dict[str, Any], docs_by_id: dict[str, dict[str, Any]], distractors: int, with_oracle: bool, rng: random.Random
) -> list[dict[str, Any]]:
    """The oracle (if asked) plus `distractors` other documents, shuffled."""
    oracle = row["oracle_doc"]
    if oracle not in docs_by_id:
        raise ValueError(f"Question {row.get('id')!r} names oracle document {oracle!r}, which is not in the corpus.")
    others = [d for d in docs_by_id if d != oracle]
    if distractors > len(others):
        raise ValueError(f"Asked for {distractors} distractors but the corpus has only {len(others)} other documents.")
    chosen = [docs_by_id[d] for d in rng.sample(others, distractors)]
    if with_oracle:
        chosen.append(docs_by_id[oracle])
    rng.shuffle(chosen)
    return chosen


def build_raft_examples(
    questions: Sequence[dict[str, Any]],
    corpus: Sequence[dict[str, Any]],
    distractors: int = 3,
    oracle_share: float = 0.8,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One prompt/completion row per question (TRL conversational format).

    A share `oracle_share` of the rows carry the oracle plus `distractors` distractors; the rest carry
    distractors only (one more, so every prompt has the same number of documents). Which rows lose their
    oracle is drawn with `seed`, and `with_oracle` records it.
    """
    if not questions:
        raise ValueError("No questions given: RAFT examples are built one per question.")
    if not 0.0 <= oracle_share <= 1.0:
        raise ValueError(f"oracle_share must lie in [0, 1], got {oracle_share}.")
    if distractors < 1:
        raise ValueError("RAFT needs at least one distractor document per example.")
    docs_by_id = {d["id"]: d for d in corpus}
    rng = random.Random(seed)
    without = set(rng.sample(range(len(questions)), round(len(questions) * (1 - oracle_share))))
    rows = []
    for index, row in enumerate(questions):
        with_oracle = index not in without
        docs = sample_docs(row, docs_by_id, distractors if with_oracle else distractors + 1, with_oracle, rng)
        rows.append(
            {
                "id": row.get("id"),
                "with_oracle": with_oracle,
                "prompt": [{"role": "user", "content": prompt_with_context(row["question"], docs)}],
                "completion": [{"role": "assistant", "content": cite_then_answer(row, with_oracle)}],
            }
        )
    return rows


def build_plain_examples(questions: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain SFT rows: the question alone, the answer alone (knowledge goes into the weights)."""
    if not questions:
        raise ValueError("No questions given.")
    return [
        {
            "id": row.get("id"),
            "prompt": [{"role": "user", "content": row["question"]}],
            "completion": [{"role": "assistant", "content": row["answer"]}],
        }
        for row in questions
    ]


def cites_oracle(answer: str, row: dict[str, Any]) -> bool:
    """Did the model name the oracle document's id in its answer?"""
    return f"[{row['oracle_doc']}]" in answer or row["oracle_doc"] in answer
