"""Quantization written out by hand, measured on a real model, and GGUF files read with the `gguf` package."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbook.core.generation import generate_ids

# The signed integer grid of each width used by absmax quantization: symmetric, so zero stays exactly zero.
QMAX = {8: 127, 4: 7, 2: 1}


@dataclass(frozen=True)
class Quantized:
    """A blockwise-quantized tensor: one code per value and one scale per block; value ~ level(code) * scale.

    levels=None: the code is its own level (an integer grid, as absmax INT8/INT4 store it); otherwise the code
    indexes `levels` (a codebook such as NF4's 16 values, `workbook.topics.nf4`).
    """

    codes: Any  # (blocks, block size): int8 grid values, or int64 indices into levels
    scales: Any  # float32, one per block
    shape: tuple[int, ...]
    levels: Any = None

    def dequantize(self) -> Any:
        """Back to float32 in the original shape."""
        values = self.codes.float() if self.levels is None else self.levels[self.codes]
        flat = (values * self.scales[:, None]).reshape(-1)
        return flat[: math.prod(self.shape)].reshape(self.shape)


def pad_to_blocks(weight: Any, size: int) -> Any:
    """The tensor flattened to float32 and zero-padded into rows of `size` values (one row per block)."""
    import torch

    flat = weight.detach().float().reshape(-1)
    if flat.numel() == 0:
        raise ValueError("Cannot quantize an empty tensor.")
    if not torch.isfinite(flat).all():
        raise ValueError("The tensor contains NaN or inf; absmax scaling needs finite values.")
    return torch.nn.functional.pad(flat, (0, (-flat.numel()) % size)).reshape(-1, size)


def absmax_quantize(weight: Any, bits: int = 8, block_size: int | None = None) -> Quantized:
    """Symmetric absmax quantization: scale = max|w| / qmax per block (whole tensor when block_size is None)."""
    import torch

    if bits not in QMAX:
        raise ValueError(f"bits={bits} is not supported: choose one of {sorted(QMAX)}.")
    if block_size is not None and block_size < 1:
        raise ValueError(f"block_size must be a positive number of weights or None; got {block_size}.")
    blocks = pad_to_blocks(weight, block_size or weight.numel())
    absmax = blocks.abs().amax(dim=1, keepdim=True)
    scales = torch.where(absmax > 0, absmax / QMAX[bits], torch.ones_like(absmax))
    codes = torch.clamp(torch.round(blocks / scales), -QMAX[bits], QMAX[bits]).to(torch.int8)
    return Quantized(codes, scales.squeeze(1), tuple(weight.shape))


def dequantize(q: Quantized) -> Any:
    """Back to float32 in the original shape (the same as `q.dequantize()`)."""
    return q.dequantize()


def roundtrip_error(original: Any, restored: Any) -> dict[str, float]:
    """Mean and max absolute error, and error relative to the weights' own size (Frobenius norm ratio)."""
    diff = (original.float() - restored.float()).abs()
    return {
        "mean_abs": diff.mean().item(),
        "max_abs": diff.max().item(),
        "relative": (diff.norm() / original.float().norm()).item(),
    }


def bnb_roundtrip(weight: Any, kind: str) -> Any:
    """Quantize and dequantize with bitsandbytes' own kernels: kind 'int8' (row-wise absmax), 'nf4' or 'fp4'."""
    import bitsandbytes.functional as bnbf
    import torch

    w = weight.detach().float().contiguous()
    if kind == "int8":
        codes, row_absmax, _ = bnbf.int8_vectorwise_quant(w.half())
        return codes.float() * row_absmax.float().unsqueeze(1) / 127
    if kind in ("nf4", "fp4"):
        packed, state = bnbf.quantize_4bit(w, quant_type=kind, blocksize=64)
        return bnbf.dequantize_4bit(packed, state).to(torch.float32)
    raise ValueError(f"Unknown bitsandbytes kind {kind!r}: choose 'int8', 'nf4' or 'fp4'.")


# ---- measuring a loaded model ------------------------------------------------------------------------------------


def greedy_ids(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> list[int]:
    """The greedy continuation of a chat prompt, as token ids (no stopping at EOS, so lengths match)."""
    return generate_ids(model, tokenizer, [prompt], max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens)[0]


def agreement(reference: Sequence[int], other: Sequence[int]) -> float:
    """Share of positions at which two greedy continuations pick the same token (1.0: identical answers)."""
    if not reference:
        raise ValueError("The reference continuation is empty.")
    same = sum(a == b for a, b in zip(reference, other, strict=False))
    return same / len(reference)


def first_divergence(reference: Sequence[int], other: Sequence[int]) -> int:
    """Index of the first token where two continuations differ (their length when they never do)."""
    for i, (a, b) in enumerate(zip(reference, other, strict=False)):
        if a != b:
            return i
    return min(len(reference), len(other))


def latency_per_token(
    model: Any, tokenizer: Any, prompt: str, new_tokens: int, repeats: int = 1, warmup: bool = True
) -> float:
    """Seconds per generated token (greedy, prompt included), best of `repeats` runs, after a one-token warm-up
    unless the model has just generated (warmup=False)."""
    if warmup:
        greedy_ids(model, tokenizer, prompt, 1)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        greedy_ids(model, tokenizer, prompt, new_tokens)
        best = min(best, (time.perf_counter() - start) / new_tokens)
    return best


# ---- GGUF files ---------------------------------------------------------------------------------------------------


def gguf_metadata(path: str | Path, max_items: int = 8) -> dict[str, Any]:
    """Every key-value pair of a GGUF file's header; long arrays are summarised as '[N items]'."""
    from gguf import GGUFReader

    reader = GGUFReader(Path(path))
    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        value = field.contents()
        if isinstance(value, list) and len(value) > max_items:
            value = f"[{len(value)} items, first: {value[:3]}]"
        elif isinstance(value, str) and len(value) > 120:
            value = value[:120] + f"... ({len(value)} chars)"
        meta[key] = value
    return meta


@dataclass(frozen=True)
class TensorInfo:
    name: str
    ggml_type: str
    shape: tuple[int, ...]
    n_elements: int
    n_bytes: int

    @property
    def bits_per_weight(self) -> float:
        return self.n_bytes * 8 / self.n_elements


def gguf_tensors(path: str | Path) -> list[TensorInfo]:
    """Name, GGML type, shape and stored bytes of every tensor in a GGUF file."""
    from gguf import GGUFReader

    reader = GGUFReader(Path(path))
    return [
        TensorInfo(t.name, t.tensor_type.name, tuple(int(x) for x in t.shape), int(t.n_elements), int(t.n_bytes))
        for t in reader.tensors
    ]


def gguf_type_summary(tensors: Sequence[TensorInfo]) -> list[dict[str, Any]]:
    """Per GGML type: how many tensors, how many weights, bytes and the average bits per weight."""
    counts: Counter[str] = Counter()
    elements: Counter[str] = Counter()
    nbytes: Counter[str] = Counter()
    for t in tensors:
        counts[t.ggml_type] += 1
        elements[t.ggml_type] += t.n_elements
        nbytes[t.ggml_type] += t.n_bytes
    return [
        {"type": k, "tensors": counts[k], "weights": elements[k], "MB": round(nbytes[k] / 1e6, 2),
         "bits_per_weight": round(nbytes[k] * 8 / elements[k], 3)}
        for k in sorted(counts, key=lambda k: -elements[k])
    ]  # fmt: skip
