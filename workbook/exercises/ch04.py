"""Chapter 04's exercises: LoRA's parameter count, the rank explorer, adapters on the loaded model, memory."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.lora_rank import lora_params
from workbook.topics.memory import full_finetune_memory
from workbook.topics.qlora_table import MLP, LlamaShape


def _shape(model) -> LlamaShape:
    return LlamaShape.from_config(model.config, getattr(model, "workbook_model_id", "the loaded model"))


def _mlp_share(model) -> float:
    shape = _shape(model)
    mlp = shape.layers * sum(d * k for name, (d, k) in shape.projections().items() if name in MLP)
    return mlp / model.num_parameters()


EXERCISES = {
    1: Exercise(
        "the trainable numbers of a rank-r LoRA pair on a d x k weight",
        lora_params,
        "B is d x r and A is r x k: count both.",
        cases=((576, 576, 8), (2048, 8192, 16), (1536, 576, 1), (4096, 4096, 8)),
    ),
    2: Exercise(
        "the smallest rank keeping 75% of the q_proj ΔW's energy",
        lambda explorer: explorer.rank_for_energy(0.75),
        "Energy is the squared singular values; accumulate them from the largest and stop at 75% of the total.",
    ),
    3: Exercise(
        "LoRA r = 4 on q_proj and v_proj of every layer of the loaded model",
        lambda model: _shape(model).lora_params(4, ("q_proj", "v_proj")),
        "r(d + k) per adapted projection, times the layers; v_proj can be narrower than q_proj (grouped-query "
        "attention), so read each weight's shape. Or let PEFT count: get_peft_model, then sum requires_grad numels.",
    ),
    4: Exercise(
        "GB to fully fine-tune the loaded model with 8-bit Adam in mixed precision",
        lambda model: full_finetune_memory(model.num_parameters() / 1e9, "bf16", optimizer="8-bit Adam").total_gb,
        "bf16 weights and gradients (2 + 2), an fp32 master copy (4), and 8-bit Adam's m and v (1 + 1) bytes per "
        "parameter; full_finetune_memory(..., optimizer='8-bit Adam') does it.",
        rtol=0.005,
    ),
    5: Exercise(
        "the share of all the loaded model's parameters that sits in the MLP projections",
        _mlp_share,
        "Sum the gate_proj, up_proj and down_proj weights over every layer and divide by model.num_parameters().",
        rtol=0.005,
    ),
}
