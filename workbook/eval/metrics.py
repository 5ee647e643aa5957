"""Scoring short factual answers, spotting refusals, and the forgetting guard.

Why these metrics: the course's test answers are one or two sentences long and carry a few checkable facts
(a deadline, an amount, an article number). ROUGE-L F1 (longest common token subsequence) rewards answers
that say the same thing in the same order without demanding exact wording; key-fact recall checks that the
facts that matter (e.g. "72 hours") are actually there, which ROUGE-L alone can miss in a long answer that
shares many filler words. The per-example `score` is the mean of the two, on a 0..1 scale.

Everything here is pure Python except `generate_answers`, which calls the model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

# Apostrophes are dropped (so "Article's" -> "articles"); other punctuation becomes a space, except that
# a decimal point or thousands separator between digits is kept so "4.5" and "20,000" stay one token.
_APOSTROPHES = re.compile(r"['\u2019`]")
_PUNCTUATION = re.compile(r"(?<!\d)[.,]|[.,](?!\d)|[^\w\s.,]")
_SPACES = re.compile(r"\s+")

# Phrases that open or carry a refusal in instruct-model output. Matched on the normalised text, so the
# apostrophe in "can't" is already gone ("cant"). A heuristic: it misses creative refusals and can flag an
# answer that quotes one of these phrases; the labs use it for spot-checks, not as a safety classifier.
REFUSAL_PHRASES: tuple[str, ...] = (
    "i cant",
    "i cannot",
    "i can not",
    "i wont",
    "i will not",
    "i am not able to",
    "im not able to",
    "i am unable to",
    "im unable to",
    "i must decline",
    "i have to decline",
    "i decline",
    "i refuse",
    "i am sorry but",
    "im sorry but",
    "sorry but i",
    "i apologize but",
    "i apologise but",
    "not able to help with",
    "cant help with",
    "cannot help with",
    "cannot assist",
    "cant assist",
    "cannot provide",
    "cant provide",
    "not something i can",
    "against my guidelines",
    "i am not comfortable",
    "im not comfortable",
    "it would be illegal",
    "this is illegal",
    "that is illegal",
    "would be unethical",
    "is unethical",
    "i strongly advise against",
    "i advise against",
)


def normalize(text: str) -> str:
    """Lowercase, strip accents and punctuation, collapse spaces."""
    if not isinstance(text, str):
        raise TypeError(f"Expected a string to score, got {type(text).__name__}.")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _APOSTROPHES.sub("", text)
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def tokens(text: str) -> list[str]:
    """Normalised word tokens."""
    normal = normalize(text)
    return normal.split() if normal else []


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (two-row dynamic programme)."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for item in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if item == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l_f1(prediction: str, reference: str) -> float:
    """ROUGE-L F1 on normalised word tokens: 1.0 for the same words in the same order, 0.0 for nothing shared."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return 0.0
    lcs = _lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def fact_present(prediction: str, fact: str) -> bool:
    """True when the normalised fact appears in the normalised prediction as whole words.

    A fact may list alternatives separated by "|" (e.g. "72 hours|three days"); any one of them counts.
    """
    text = f" {normalize(prediction)} "
    alternatives = [normalize(option) for option in fact.split("|")]
    return any(option and f" {option} " in text for option in alternatives)


def key_fact_recall(prediction: str, key_facts: Iterable[str]) -> float:
    """Share of key facts found in the prediction (whole-word match after normalisation); 1.0 if there are none."""
    facts = [fact for fact in key_facts if normalize(fact.replace("|", " "))]
    if not facts:
        return 1.0
    return sum(fact_present(prediction, fact) for fact in facts) / len(facts)


def score_answer(prediction: str, reference: str, key_facts: Iterable[str]) -> dict[str, float]:
    """Per-example scores on 0..1: `rouge_l`, `key_fact_recall` and `score` (their mean)."""
    rouge = rouge_l_f1(prediction, reference)
    recall = key_fact_recall(prediction, list(key_facts))
    return {"rouge_l": round(rouge, 4), "key_fact_recall": round(recall, 4), "score": round((rouge + recall) / 2, 4)}


def aggregate(scores: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Mean of every numeric metric over the examples, plus `n`. Empty input gives n=0 and no means."""
    result: dict[str, float] = {"n": len(scores)}
    if not scores:
        return result
    keys = [k for k, v in scores[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    for key in keys:
        values = [row[key] for row in scores if isinstance(row.get(key), (int, float))]
        if values:
            result[key] = round(sum(values) / len(values), 4)
    return result


def is_refusal(text: str) -> bool:
    """Heuristic: does the text contain one of `REFUSAL_PHRASES` (after normalisation)?"""
    normal = f" {normalize(text)} "
    return any(f" {phrase} " in normal for phrase in REFUSAL_PHRASES)


def forgetting_guard(
    task_before: float,
    task_after: float,
    general_before: float,
    general_after: float,
    max_general_drop: float = 3.0,
) -> dict[str, Any]:
    """The ship rule: the task score must improve and the general score must not drop by more than
    `max_general_drop` points. All scores on a 0-100 scale. Returns `passed`, `reasons` and the deltas."""
    values = {
        "task_before": task_before,
        "task_after": task_after,
        "general_before": general_before,
        "general_after": general_after,
    }
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name} must be a number on a 0-100 scale, got {value!r}.")
        if not 0 <= value <= 100:
            raise ValueError(
                f"{name}={value} is outside 0-100. Scores here are percentages: multiply a 0..1 score by 100."
            )
    task_delta = task_after - task_before
    general_delta = general_after - general_before
    reasons = []
    if task_delta <= 0:
        reasons.append(f"task score did not improve ({task_before:.1f} -> {task_after:.1f}, {task_delta:+.1f} points)")
    if general_delta < -max_general_drop:
        reasons.append(
            f"general score dropped {-general_delta:.1f} points ({general_before:.1f} -> {general_after:.1f}), "
            f"more than the {max_general_drop:.1f} allowed"
        )
    return {
        "passed": not reasons,
        "reasons": reasons or ["task improved and general capability held"],
        "task_delta": round(task_delta, 2),
        "general_delta": round(general_delta, 2),
        "max_general_drop": max_general_drop,
    }


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def generate_answers(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    prompt_key: str = "question",
    max_new_tokens: int | None = None,
    batch_size: int = 1,
) -> list[dict[str, Any]]:
    """Answer each row's `prompt_key` greedily; returns copies of the rows with `answer` and an ISO `timestamp`.

    A row's own reference answer, if any, moves to `reference` so it is not overwritten.
    batch_size=1 calls `workbook.core.models.generate_reply` per row; a larger batch pads on the left and generates
    several rows at once (several times faster on CPU; greedy outputs can differ in rare near-ties).
    """
    from workbook.core.models import generate_reply

    for index, row in enumerate(rows):
        if prompt_key not in row:
            raise ValueError(f"Row {index} (id={row.get('id')!r}) has no {prompt_key!r} field to prompt with.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    results = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        if batch_size == 1:
            replies = [generate_reply(model, tokenizer, chunk[0][prompt_key], max_new_tokens=max_new_tokens)]
        else:
            replies = _generate_batch(model, tokenizer, [row[prompt_key] for row in chunk], max_new_tokens)
        stamp = now_iso()
        for row, reply in zip(chunk, replies, strict=True):
            out = dict(row)
            if "answer" in out:
                out["reference"] = out.pop("answer")
            out["answer"] = reply
            out["timestamp"] = stamp
            results.append(out)
    return results


def _generate_batch(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int | None) -> list[str]:
    """Greedy chat replies to several prompts in one left-padded `generate` call."""
    import torch

    from workbook.core.config import pick

    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    finally:
        tokenizer.padding_side = side
    with torch.no_grad():
        output = model.generate(
            **inputs, max_new_tokens=max_new_tokens or pick(40, 160), do_sample=False, pad_token_id=pad_id
        )
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in new_tokens]
