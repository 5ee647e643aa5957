"""Packing for SFT (chapter 02): what `SFTConfig(packing=True)` does to the steps, the padding and the loss mask.

`SFTTrainer` tokenizes each example and builds its labels (-100 outside the completion or assistant turns)
*before* packing, so the loss mask travels with the tokens. Its default strategy, best-fit decreasing ("bfd"),
groups whole examples into rows of at most `max_length` tokens, and its padding-free collator flattens a batch into
one sequence whose `position_ids` restart at 0 for each example (and labels the first token of each example -100).
With no attention mask and no KV cache (TRL passes use_cache=False), transformers reads those restarts as document
boundaries and builds a block-diagonal attention mask, so no example attends to another. `packed_logit_gap`
measures that on a real model; `epoch_stats` counts steps and padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100


def pack_tokenized(dataset: Any, max_length: int, strategy: str = "bfd") -> Any:
    """What `SFTTrainer(packing=True)` does to its tokenized dataset: TRL's `pack_dataset` on input_ids and labels."""
    from trl.data_utils import pack_dataset

    if max_length < 1:
        raise ValueError(f"max_length must be a positive number of tokens, got {max_length!r}.")
    missing = {"input_ids", "labels"} - set(dataset.column_names)
    if missing:
        raise ValueError(f"the dataset needs tokenized columns {sorted(missing)}: pass a trainer's train_dataset.")
    return pack_dataset(dataset.select_columns(["input_ids", "labels"]), max_length, strategy)


@dataclass(frozen=True)
class EpochStats:
    """One epoch of a trainer's batches: optimizer steps, token positions computed, padding and trained tokens."""

    steps: int
    positions: int
    padding: int
    trained: int

    @property
    def padding_share(self) -> float:
        return self.padding / self.positions if self.positions else 0.0


def epoch_stats(batches: Iterable[dict[str, Any]]) -> EpochStats:
    """Count one pass over collated batches (a trainer's `get_train_dataloader()`).

    A padded batch marks its padding with attention_mask 0; a padding-free (packed) batch has no attention_mask.
    """
    steps = positions = padding = trained = 0
    for batch in batches:
        ids = batch["input_ids"]
        steps += 1
        positions += int(ids.numel())
        if "attention_mask" in batch:
            padding += int((batch["attention_mask"] == 0).sum())
        trained += int((batch["labels"] != IGNORE_INDEX).sum())
    return EpochStats(steps, positions, padding, trained)


def packed_logit_gap(model: Any, first: Sequence[int], second: Sequence[int], reset_positions: bool = True) -> float:
    """Largest change in the logits of example `second` when it is packed after `first` in one row.

    reset_positions=True feeds what TRL's padding-free collator feeds (position_ids restarting at 0, no attention
    mask): ~0, no cross-example attention. False feeds a naive concatenation (positions 0..n-1, a mask of ones):
    `second` then attends to `first`, and its logits change. Both run with use_cache=False, as TRL's training step
    does: transformers looks for packed position_ids only when there is no attention mask and no KV cache.
    """
    import torch

    if not first or not second:
        raise ValueError("both examples need at least one token.")
    device = next(model.parameters()).device
    alone = torch.tensor([list(second)], device=device)
    packed = torch.tensor([[*first, *second]], device=device)
    if reset_positions:
        positions = torch.tensor([[*range(len(first)), *range(len(second))]], device=device)
        inputs = {"input_ids": packed, "position_ids": positions}
    else:
        inputs = {"input_ids": packed, "attention_mask": torch.ones_like(packed)}
    with torch.no_grad():
        reference = model(input_ids=alone, use_cache=False).logits[0].float()
        logits = model(**inputs, use_cache=False).logits[0, len(first) :].float()
    return float((logits - reference).abs().max())
