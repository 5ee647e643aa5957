"""Chapter 02's exercises: the loss mask, LoRA's size, the full fine-tuning bill and packing."""

from __future__ import annotations

import math

from workbook.exercises import Exercise
from workbook.topics.lora_rank import lora_params
from workbook.topics.masking import IGNORE_INDEX
from workbook.topics.memory import bytes_per_param, full_finetune_memory
from workbook.topics.packing import pack_tokenized


def _trained_fraction(trainer) -> float:
    labels = [label for row in trainer.train_dataset for label in row["labels"]]
    return sum(label != IGNORE_INDEX for label in labels) / len(labels)


def _adapter_weights(config, r: int = 8) -> int:
    """LoRA weights on q_proj and v_proj of every layer of a Llama-style `config`."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    q = lora_params(config.num_attention_heads * head_dim, config.hidden_size, r)
    v = lora_params(config.num_key_value_heads * head_dim, config.hidden_size, r)
    return config.num_hidden_layers * (q + v)


def _base_weights(config) -> int:
    """All weights of a Llama-style model built from `config` (on the meta device: shapes only)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config).num_parameters()


def _share_percent(llama3_8b) -> float:
    adapters = _adapter_weights(llama3_8b)
    return 100 * adapters / (_base_weights(llama3_8b) + adapters)


EXERCISES = {
    1: Exercise(
        "the fraction of the training set's tokens that carry a loss",
        _trained_fraction,
        "Gather every label of every row of `trainer.train_dataset` and count those that are not -100.",
        rtol=1e-9,
    ),
    2: Exercise(
        "LoRA r=8 on q_proj and v_proj of the loaded model: trainable weights",
        lambda model: _adapter_weights(model.config),
        "Per layer: r x (d_in + d_out) for q_proj and for v_proj. v_proj's output is num_key_value_heads x head_dim, "
        "smaller than q_proj's (grouped-query attention).",
    ),
    3: Exercise(
        "the largest model fully fine-tunable with 8-bit Adam on one 80 GB GPU, in billions",
        lambda: 80 / bytes_per_param(full_finetune_memory(1, "bf16", "8-bit Adam", mixed_precision=True), 1),
        "Bytes per parameter: 2 (weights) + 2 (gradients) + 4 (fp32 master) + 2 (8-bit m and v); 80 GB / that.",
        rtol=0.01,
    ),
    4: Exercise(
        "optimizer steps per epoch with packing at max_length=256, batch 4",
        lambda trainer: math.ceil(len(pack_tokenized(trainer.train_dataset, 256)) / 4),
        "`pack_tokenized(trainer.train_dataset, 256)` gives the packed rows; a step takes 4 rows; round up.",
    ),
    5: Exercise(
        "the percentage of Llama 3 8B's weights that LoRA r=8 on q_proj and v_proj trains",
        _share_percent,
        "Count the adapters (r x (d_in + d_out) per projection per layer) and all weights with them, as PEFT's "
        "get_nb_trainable_parameters() does; give a percentage, not a fraction.",
        rtol=1e-3,
    ),
}
