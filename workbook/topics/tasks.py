"""Two tiny, distinct synthetic tasks for training and merging adapters, and a completion-only score.

"upper" repeats a phrase in capitals; "reverse" says its words in reverse order. Both are generated from a
fixed word list, so the train and held-out splits never share a phrase and any reader can check the answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

WORDS = (
    "red blue green quiet brave small tall river stone cloud garden lamp window paper music orange silver "
    "winter summer forest market bridge candle pocket rabbit violin pepper marble harbor planet ladder"
).split()

TASKS = {
    "upper": ("Repeat in capital letters: {phrase}", lambda words: " ".join(words).upper()),
    "reverse": ("Say these words in reverse order: {phrase}", lambda words: " ".join(reversed(words))),
}


def make_task_rows(task: str, count: int, seed: int) -> list[dict[str, str]]:
    """`count` prompt/completion rows (TRL conversational format) of a synthetic task, three words each."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}: choose one of {sorted(TASKS)}.")
    template, solve = TASKS[task]
    rng = random.Random(f"{task}-{seed}")
    rows = []
    for _ in range(count):
        words = rng.sample(WORDS, 3)
        rows.append(
            {
                "prompt": [{"role": "user", "content": template.format(phrase=" ".join(words))}],
                "completion": [{"role": "assistant", "content": solve(words)}],
            }
        )
    return rows


def completion_nll(model: Any, tokenizer: Any, rows: Sequence[dict[str, Any]]) -> float:
    """Mean NLL (nats/token) of each row's completion given its prompt, through the chat template.

    Lower is better; it moves smoothly with training, unlike exact match on a handful of examples.
    """
    import torch

    if not rows:
        raise ValueError("No rows to score.")
    total, count = 0.0, 0
    model.eval()
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=False)
        prompt_len = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        ids = tokenizer(full, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)
        labels = ids.clone()
        labels[:, :prompt_len] = -100
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss
        predicted = int((labels[:, 1:] != -100).sum())
        total += loss.item() * predicted
        count += predicted
    return total / count


def exact_match(prediction: str, row: dict[str, Any]) -> bool:
    """True when the prediction equals the row's completion, ignoring surrounding spaces and a final period."""
    return prediction.strip().rstrip(".") == row["completion"][0]["content"]
