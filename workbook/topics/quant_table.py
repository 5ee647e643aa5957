"""How big a model is on disk or in memory at each precision: the chapter 06 size table (its widget is
`workbook.ui.size_table`).

Sizes are decimal gigabytes (1 GB = 10**9 bytes), weights only (no KV cache, no activations).

Where the bits-per-weight come from:
- Plain formats (FP32 ... INT2): the width of one stored number; INT4/INT2 are the ideal figure without the
  per-block scales a real scheme adds (see the NF4 row for what a scale costs).
- NF4 + double quantization (bitsandbytes): 4 bits + one 8-bit absmax per 64 weights + one fp32 scale per 256
  absmaxes = 4 + 8/64 + 32/(64*256) ~ 4.127 bits (`workbook.topics.memory.bits_per_param`).
- GGUF levels: llama.cpp's quantize tool (tools/quantize/quantize.cpp, QUANT_OPTIONS, as vendored in
  llama-cpp-python 0.3.36) publishes each level's file size for Llama-3-8B (8,030,261,248 parameters), e.g.
  "Q4_K_M: 4.58G". "G" there is GiB (Q8_0: 8.03e9 x 8.5 bits = 7.96 GiB), so bits per weight =
  size x 2**30 x 8 / 8.03e9. These are whole-file averages: a "Q4_K_M" file keeps some tensors at Q6_K, which is
  why it averages 4.90 bits, not 4.5. The pure block figure of each base type, from gguf's GGML_QUANT_SIZES
  (bytes per block x 8 / weights per block), is given alongside as `block_bits`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workbook.topics.memory import bits_per_param

LLAMA3_8B_PARAMS = 8_030_261_248
GIB = 2**30
QUANTIZE_CPP = "llama.cpp tools/quantize/quantize.cpp (QUANT_OPTIONS), llama-cpp-python 0.3.36"

# Published whole-file sizes (GiB) for Llama-3-8B from llama.cpp's quantize tool.
GGUF_PUBLISHED_GIB = {
    "Q2_K": 2.96,
    "Q3_K_S": 3.41,
    "Q3_K_M": 3.74,
    "Q4_0": 4.34,
    "Q4_K_S": 4.37,
    "Q4_K_M": 4.58,
    "Q5_K_S": 5.21,
    "Q5_K_M": 5.33,
    "Q6_K": 6.14,
    "Q8_0": 7.96,
}
# The GGML block type each level is named after (its pure bits per weight come from gguf's table).
GGUF_BASE_TYPE = {
    "Q2_K": "Q2_K", "Q3_K_S": "Q3_K", "Q3_K_M": "Q3_K", "Q4_0": "Q4_0", "Q4_K_S": "Q4_K",
    "Q4_K_M": "Q4_K", "Q5_K_S": "Q5_K", "Q5_K_M": "Q5_K", "Q6_K": "Q6_K", "Q8_0": "Q8_0",
}  # fmt: skip

PLAIN_BITS = {
    "FP32": 32.0,
    "BF16/FP16": 16.0,
    "INT8": 8.0,
    "INT4": 4.0,
    "NF4 (+double quant)": bits_per_param(double_quant=True),
    "INT2": 2.0,
}

PRESETS = {"135M": 135e6, "1B": 1e9, "3B": 3e9, "7B": 7e9, "8B": 8e9, "13B": 13e9, "70B": 70e9}
MAX_PARAMS = 1e13  # 10 trillion: larger than any published dense model; beyond it is a typo

# Seed 000, concept 14: "a 70B parameter model at different precisions" (its figures, in GB).
SEED_000_TABLE = {"FP32": 140.0, "BF16/FP16": 70.0, "INT8": 35.0, "INT4": 17.0}
# Seed 002, section 05: "Memory for 7B" per precision, and its GGUF table "Size (7B model)" (GB).
SEED_002_7B_PRECISIONS = {"FP32": 28.0, "BF16/FP16": 14.0, "INT8": 7.0, "INT4": 3.5, "INT2": 1.75}
SEED_002_7B_GGUF = {
    "GGUF Q2_K": 2.8, "GGUF Q3_K_M": 3.6, "GGUF Q4_K_M": 4.5, "GGUF Q5_K_M": 5.7, "GGUF Q6_K": 6.7,
    "GGUF Q8_0": 9.0, "BF16/FP16": 14.0,
}  # fmt: skip


def block_bits(ggml_type: str) -> float:
    """Bits per weight of one GGML block type, from gguf's GGML_QUANT_SIZES (llama.cpp's own constants)."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType[ggml_type]]
    except KeyError:
        raise ValueError(f"Unknown GGML type {ggml_type!r}; gguf knows {[t.name for t in GGML_QUANT_SIZES]}") from None
    return type_size * 8 / block_size


def gguf_bits(level: str) -> float:
    """Average bits per weight of a GGUF level, from llama.cpp's published Llama-3-8B file size."""
    return GGUF_PUBLISHED_GIB[level] * GIB * 8 / LLAMA3_8B_PARAMS


def bits_per_weight() -> dict[str, float]:
    """Every format the table knows, in display order, with its bits per weight."""
    table = dict(PLAIN_BITS)
    table.update({f"GGUF {level}": gguf_bits(level) for level in GGUF_PUBLISHED_GIB})
    return table


FORMATS = tuple(bits_per_weight())


def parse_size(size: str | float | int) -> float:
    """A parameter count from a preset name ("7B"), a number (7e9) or text such as "1.5B", "350M", "70e9"."""
    if isinstance(size, bool):
        raise ValueError("A model size is a number of parameters such as 7e9 or '7B', not True/False.")
    if isinstance(size, (int, float)):
        params = float(size)
    else:
        text = str(size).strip().upper().replace(",", "").replace("_", "")
        match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:E[+-]?[0-9]+)?)\s*([KMBT]?)", text)
        if not match:
            raise ValueError(
                f"Cannot read {size!r} as a model size. Type a parameter count like 7B, 1.5B, 350M or 7e9."
            )
        scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[match.group(2)]
        params = float(match.group(1)) * scale
    if params != params or params <= 0:  # NaN or non-positive
        raise ValueError(f"A model size must be a positive number of parameters; got {size!r}.")
    if params < 1e6:
        raise ValueError(
            f"{size!r} is {params:,.0f} parameters: under a million is not a language model. "
            "Add the unit: M = million, B = billion (e.g. 135M, 7B)."
        )
    if params > MAX_PARAMS:
        raise ValueError(
            f"{size!r} is {params:.3g} parameters, beyond 10 trillion: larger than any published model. "
            "Check the unit (B = billion, M = million)."
        )
    return params


def size_gb(params: float, fmt: str) -> float:
    """Weights-only size in GB of `params` parameters stored in format `fmt`."""
    bits = bits_per_weight()
    if fmt not in bits:
        raise ValueError(f"Unknown format {fmt!r}. Known formats: {', '.join(bits)}.")
    return params * bits[fmt] / 8 / 1e9


@dataclass(frozen=True)
class SizeRow:
    fmt: str
    bits: float
    gb: float
    ratio_to_fp32: float


def size_table(size: str | float | int, formats: tuple[str, ...] | None = None) -> list[SizeRow]:
    """One row per format: bits per weight, size in GB and the shrink factor against FP32."""
    params = parse_size(size)
    chosen = formats or FORMATS
    bits = bits_per_weight()
    unknown = [f for f in chosen if f not in bits]
    if unknown:
        raise ValueError(f"Unknown format(s) {unknown}. Known formats: {', '.join(bits)}.")
    return [SizeRow(f, bits[f], size_gb(params, f), 32.0 / bits[f]) for f in chosen]


def format_table(rows: list[SizeRow]) -> str:
    """The size table as aligned text."""
    lines = [f"{'format':<22}{'bits/weight':>12}{'size (GB)':>12}{'x smaller':>11}"]
    lines += [f"{r.fmt:<22}{r.bits:>12.3f}{r.gb:>12.2f}{r.ratio_to_fp32:>11.1f}" for r in rows]
    return "\n".join(lines)


def gguf_sources() -> list[dict[str, Any]]:
    """Per GGUF level: the published Llama-3-8B size, the average bits it implies and its base type's block bits."""
    return [
        {
            "level": level,
            "published_GiB_llama3_8b": gib,
            "avg_bits": round(gguf_bits(level), 3),
            "base_type": GGUF_BASE_TYPE[level],
            "block_bits": round(block_bits(GGUF_BASE_TYPE[level]), 4),
        }
        for level, gib in GGUF_PUBLISHED_GIB.items()
    ]


def seed_correction(params: float = 70e9, seed: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """A seed's size table (default: seed 000's 70B one) next to the computed figures for `params` parameters."""
    return [
        {"format": fmt, "seed_GB": quoted, "computed_GB": round(size_gb(params, fmt), 2),
         "seed_off_by": round(size_gb(params, fmt) / quoted, 2)}
        for fmt, quoted in (SEED_000_TABLE if seed is None else seed).items()
    ]  # fmt: skip


def plot_sizes(rows: list[SizeRow], title: str = "", ax: Any = None) -> Any:
    """Horizontal bar chart of the size table; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(rows) + 1))
    names = [r.fmt for r in rows][::-1]
    sizes = [r.gb for r in rows][::-1]
    colours = ["tab:orange" if n.startswith("GGUF") else "tab:blue" for n in names]
    bars = ax.barh(names, sizes, color=colours)
    ax.bar_label(bars, labels=[f"{s:.2f} GB" if s < 10 else f"{s:.0f} GB" for s in sizes], padding=3, fontsize=8)
    ax.set_xlabel("weights-only size (GB, 1 GB = 1e9 bytes)")
    ax.set_xlim(0, max(sizes) * 1.2)
    ax.set_title(title)
    return ax
