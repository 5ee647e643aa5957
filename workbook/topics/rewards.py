"""Verifiable rewards for a small arithmetic task: a program checks the answer, no reward model needed.

Each reward follows TRL's signature `f(prompts, completions, **columns) -> list[float]`: `completions` are strings
(standard prompts) or lists of messages (conversational prompts), and every other dataset column (here `target`)
arrives as a keyword list with one value per completion.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

NUMBER = re.compile(r"-?\d+")
ENDS_WITH_NUMBER = re.compile(r"-?\d+\s*\.?$")
TASK = "What is {a} + {b}?"
EQUATION = re.compile(r"-?\d+\s*\+\s*-?\d+\s*=\s*-?\d+")  # "7 + 5 = 12", right or wrong
SHORT_WORDS = 12  # a reply of at most this many words that ends with its answer is "well formatted"


def completion_text(completion: Any) -> str:
    """The text of one completion, whether TRL passes a string or a list of chat messages."""
    if isinstance(completion, str):
        return completion
    return "".join(message.get("content", "") for message in completion)


def final_answer(text: str) -> int | None:
    """The reply's answer: its last integer ("7 + 5 = 12" answers 12), or None when it writes no number."""
    numbers = NUMBER.findall(text)
    return int(numbers[-1]) if numbers else None


def addition_rows(n: int, seed: int, low: int = 1, high: int = 9, exclude: Sequence[str] = ()) -> list[dict]:
    """`n` addition prompts (conversational) with their `target`, none of whose questions is in `exclude`."""
    rng, rows, seen = random.Random(seed), [], set(exclude)
    while len(rows) < n:
        a, b = rng.randint(low, high), rng.randint(low, high)
        question = TASK.format(a=a, b=b)
        if question in seen:
            continue
        seen.add(question)
        rows.append({"prompt": [{"role": "user", "content": question}], "target": a + b})
    return rows


def well_formatted(text: str) -> bool:
    """A short reply (at most SHORT_WORDS words) that ends with its number, like "7 + 5 = 12"."""
    text = text.strip()
    return len(text.split()) <= SHORT_WORDS and ENDS_WITH_NUMBER.search(text) is not None


def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
    """0.5 for a short reply that ends with its number, else 0."""
    return [0.5 if well_formatted(completion_text(c)) else 0.0 for c in completions]


def correctness_reward(
    prompts: Sequence[Any], completions: Sequence[Any], target: Sequence[int], **_: Any
) -> list[float]:
    """1 when the reply's final answer (its last number) equals the target, else 0."""
    return [
        1.0 if final_answer(completion_text(c)) == int(t) else 0.0 for c, t in zip(completions, target, strict=True)
    ]


def shows_working_reward(prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
    """A checker with a loophole: meant to pay replies that show their working *and* get the sum right, it checks
    only that an equation "a + b = c" is written, never whether c is the sum."""
    return [1.0 if EQUATION.search(completion_text(c)) else 0.0 for c in completions]


def numbers_written(completion: Any) -> int:
    """How many separate numbers a completion writes (a guessing policy writes many)."""
    return len(re.findall(r"-?\d+", completion_text(completion)))


def accuracy(completions: Sequence[Any], targets: Sequence[int]) -> float:
    """Share of completions whose final answer equals the target."""
    if not completions:
        raise ValueError("No completions to score.")
    return sum(correctness_reward([], completions, targets)) / len(completions)
