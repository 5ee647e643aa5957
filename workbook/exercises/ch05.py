"""Chapter 05's exercises: NF4's levels and bit cost, what a 4-bit model really stores, and QLoRA's memory bill."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.memory import bits_per_param
from workbook.topics.nf4 import block_constant_bytes, nf4_levels
from workbook.topics.qlora_table import LLAMA_31_8B, upcast_cost_gb


def _nearest_nf4(x: float) -> float:
    levels = nf4_levels()
    return float(levels[(levels - x).abs().argmin()])


def _bigger_part(qmodel) -> str:
    embedding = qmodel.get_input_embeddings().weight
    four_bit = sum(p.numel() * p.element_size() for p in qmodel.parameters() if type(p).__name__ == "Params4bit")
    return "embedding" if embedding.numel() * embedding.element_size() > four_bit else "linear"


EXERCISES = {
    1: Exercise(
        "bits per weight of NF4 with blocks of 32 and double quantization (second-level blocks of 256)",
        lambda: bits_per_param(blocksize=32, double_quant=True),
        "4 bits of code + an 8-bit absmax shared by 32 weights + one fp32 constant per 256 absmaxes.",
        tol=1e-3,
    ),
    2: Exercise(
        "a function that rounds a number in [-1, 1] to the nearest NF4 level",
        _nearest_nf4,
        "Take `ours` (the 16 levels), find the index of the smallest |ours - x| and return that level as a float "
        "(`.item()`).",
        tol=1e-6,
        cases=((-1.0,), (0.3,), (0.05,), (-0.6,), (0.99,), (0.0,)),
    ),
    3: Exercise(
        "the bytes of NF4 block constants that `qmodel` keeps and get_memory_footprint() does not count",
        lambda qmodel: block_constant_bytes(qmodel),
        "Every 4-bit linear weight carries one 8-bit absmax per 64 weights plus one fp32 constant per 256 absmaxes: "
        "multiply the linear weights by those bits per weight and divide by 8 (or add up each quant_state).",
        rtol=0.02,
    ),
    4: Exercise(
        "the GB that prepare_model_for_kbit_training's fp32 upcast adds for Llama-3.1-8B (vs keeping bf16)",
        lambda: upcast_cost_gb(LLAMA_31_8B),
        "The upcast touches embeddings, lm_head and norms (`LLAMA_31_8B.counts()`): 2 extra bytes for each.",
        rtol=0.01,
    ),
    5: Exercise(
        "which takes more bytes in the 4-bit model loaded here: 'embedding' or 'linear' (all 4-bit layers)",
        lambda qmodel: _bigger_part(qmodel),
        "Compare numel() x element_size() of the input embedding with the sum over the Params4bit weights.",
    ),
}
