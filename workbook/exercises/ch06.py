"""Chapter 06's exercises: sizes at each precision, GGUF block costs, absmax codes and the measured quality."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.quant_table import block_bits, size_gb
from workbook.topics.quantization import absmax_quantize


def _int8_codes(values: list[float]) -> list[int]:
    import torch

    return absmax_quantize(torch.tensor(values), 8).codes.reshape(-1).tolist()


def _as_q8_0_mb(tensors) -> float:
    q8_0 = block_bits("Q8_0")
    return sum(t.n_elements * q8_0 / 8 if t.ggml_type == "Q4_1" else t.n_bytes for t in tensors) / 1e6


EXERCISES = {
    1: Exercise(
        "the weights-only size of a 13B model in BF16, in GB",
        lambda: size_gb(13e9, "BF16/FP16"),
        "Parameters x bytes per parameter (BF16 is 16 bits), divided by 1e9.",
        tol=0.01,
    ),
    2: Exercise(
        "the bits per weight of a Q4_0 block (32 weights: 4-bit codes plus one fp16 scale)",
        lambda: block_bits("Q4_0"),
        "Count the block's bytes (codes + scale), multiply by 8 and divide by the 32 weights.",
        tol=1e-3,
    ),
    3: Exercise(
        "a function returning the absmax INT8 codes (one scale for the whole list) of a list of numbers",
        _int8_codes,
        "scale = max|w| / 127; each code is round(w / scale), as a list of Python ints.",
        cases=(([0.5, -1.0, 0.25],), ([0.02, 0.01, -0.03, 0.0],), ([3.0, -0.7, 1.3, 2.2, -2.9],)),
    ),
    4: Exercise(
        "the 4-bit format with the lower held-out perplexity in this run: 'nf4' or 'fp4'",
        lambda results: min(["nf4", "fp4"], key=lambda name: results[name]["perplexity"]),
        "Read the perplexity column of section 2's table (lower is better).",
    ),
    5: Exercise(
        "the size in MB (1e6 bytes) of the offline GGUF's tensors if every Q4_1 tensor were stored as Q8_0",
        _as_q8_0_mb,
        "Keep each tensor's n_bytes, except Q4_1 tensors: n_elements x Q8_0's bits per weight / 8.",
        rtol=0.005,
    ),
}
