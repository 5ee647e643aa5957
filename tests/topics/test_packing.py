"""Packing: TRL's packer on tokenized rows, epoch counts, and no attention across packed examples."""

import pytest
import torch
from datasets import Dataset

from workbook.topics.packing import epoch_stats, pack_tokenized, packed_logit_gap


def _rows(lengths):
    return Dataset.from_list([
        {"input_ids": list(range(1, n + 1)), "labels": [-100] * (n // 2) + list(range(n // 2 + 1, n + 1))}
        for n in lengths
    ])  # fmt: skip


def test_bfd_packs_whole_examples_and_keeps_their_labels():
    rows = _rows([6, 5, 4, 3, 2])
    packed = pack_tokenized(rows, max_length=8)
    assert len(packed) < len(rows)
    assert all(len(r["input_ids"]) <= 8 for r in packed)
    assert sorted(n for r in packed for n in r["seq_lengths"]) == [2, 3, 4, 5, 6]
    trained = sum(label != -100 for r in packed for label in r["labels"])
    assert trained == sum(label != -100 for r in rows for label in r["labels"])
    assert len(pack_tokenized(rows, max_length=6)) == len(rows) - 1  # only 4 + 2 fit together in 6


def test_pack_bad_inputs():
    with pytest.raises(ValueError, match="positive"):
        pack_tokenized(_rows([2]), max_length=0)
    with pytest.raises(ValueError, match="tokenized"):
        pack_tokenized(Dataset.from_list([{"text": "a"}]), max_length=4)


def test_epoch_stats_counts_padding_and_trained_tokens():
    padded = {
        "input_ids": torch.ones(2, 4, dtype=torch.long),
        "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]),
        "labels": torch.tensor([[-100, 5, 6, -100], [-100, 7, -100, -100]]),
    }
    flat = {"input_ids": torch.ones(1, 5, dtype=torch.long), "labels": torch.tensor([[-100, 5, 6, -100, 7]])}
    stats = epoch_stats([padded, flat])
    assert (stats.steps, stats.positions, stats.padding, stats.trained) == (2, 13, 3, 6)
    assert stats.padding_share == pytest.approx(3 / 13)


def test_reset_positions_isolate_packed_examples(tiny_llama):
    model, _ = tiny_llama
    first, second = [5, 6, 7, 8, 9], [10, 11, 12]
    assert packed_logit_gap(model, first, second, reset_positions=True) < 1e-4
    assert packed_logit_gap(model, first, second, reset_positions=False) > 1e-3
    with pytest.raises(ValueError, match="at least one"):
        packed_logit_gap(model, [], second)
