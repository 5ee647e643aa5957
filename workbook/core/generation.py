"""Generation for the whole course: one chat-template encoder, one batched generator, one pad rule.

Inputs always meet the model on `model.device` (transformers moves them only for multi-device maps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbook.core.config import pick
from workbook.core.io import now_iso

Prompt = str | list[dict[str, str]]


def pad_id(tokenizer: Any) -> int:
    """The id generation pads with: the tokenizer's pad token, else its EOS (a pad id of 0 is a real id)."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def chat_text(tokenizer: Any, prompt: Prompt, chat: bool = True) -> str:
    """The text the model sees: a user message or chat messages through the chat template, ready for the reply.

    chat=False passes a plain string through untouched (how a base model is prompted).
    """
    if not chat:
        if not isinstance(prompt, str):
            raise TypeError("Raw (chat=False) prompting takes a plain string.")
        return prompt
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def generate_ids(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Prompt],
    max_new_tokens: int | None = None,
    chat: bool = True,
    temperature: float | None = None,
    seed: int = 0,
    min_new_tokens: int | None = None,
) -> list[list[int]]:
    """The new token ids for each prompt, from one left-padded `generate` call: greedy unless a temperature is given."""
    import torch

    texts = [chat_text(tokenizer, p, chat) for p in prompts]
    side, pad_token = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    finally:
        tokenizer.padding_side, tokenizer.pad_token = side, pad_token
    sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature else {"do_sample": False}
    torch.manual_seed(seed)
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens or pick(40, 160),
            min_new_tokens=min_new_tokens,
            pad_token_id=pad_id(tokenizer),
            **sampling,
        )
    return output[:, inputs["input_ids"].shape[1] :].tolist()


def generate_replies(model: Any, tokenizer: Any, prompts: Sequence[Prompt], **kwargs: Any) -> list[str]:
    """Decoded replies to several prompts (keywords as in `generate_ids`)."""
    ids = generate_ids(model, tokenizer, prompts, **kwargs)
    return [tokenizer.decode(new, skip_special_tokens=True).strip() for new in ids]


def generate_reply(model: Any, tokenizer: Any, prompt: Prompt, **kwargs: Any) -> str:
    """One reply: greedy unless `temperature` is given; chat=False prompts a base model with raw text."""
    return generate_replies(model, tokenizer, [prompt], **kwargs)[0]


def generate_answers(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    prompt_key: str = "question",
    max_new_tokens: int | None = None,
    batch_size: int = 1,
) -> list[dict[str, Any]]:
    """Answer each row's `prompt_key` greedily; returns copies of the rows with `answer` and an ISO `timestamp`.

    A row's own reference answer, if any, moves to `reference` so it is not overwritten. Larger batches are
    several times faster on CPU; greedy outputs can differ in rare near-ties because of the padding.
    """
    for index, row in enumerate(rows):
        if prompt_key not in row:
            raise ValueError(f"Row {index} (id={row.get('id')!r}) has no {prompt_key!r} field to prompt with.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    results = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        replies = generate_replies(model, tokenizer, [row[prompt_key] for row in chunk], max_new_tokens=max_new_tokens)
        stamp = now_iso()
        for row, reply in zip(chunk, replies, strict=True):
            out = dict(row)
            if "answer" in out:
                out["reference"] = out.pop("answer")
            out["answer"] = reply
            out["timestamp"] = stamp
            results.append(out)
    return results
