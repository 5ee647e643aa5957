"""4-bit NormalFloat (NF4) against uniform INT4, written out so each step can be checked.

NF4's 16 levels are quantiles of a standard normal, rescaled to [-1, 1] (QLoRA paper, Dettmers et al. 2023,
section 3 and appendix E). Both formats quantize a tensor in blocks: divide each block by its largest
absolute value (absmax), snap every number to the nearest level, and store the level's 4-bit index plus the
block's absmax (`workbook.topics.quantization.Quantized`). What that costs per weight is
`workbook.topics.memory.bits_per_param`.
"""

from __future__ import annotations

import torch

from workbook.topics.quantization import Quantized, pad_to_blocks

# QLoRA's offset: the outermost quantile used, chosen so that the extreme levels are not at +-infinity.
NF4_OFFSET = 0.9677083


def nf4_levels(offset: float = NF4_OFFSET) -> torch.Tensor:
    """The 16 NF4 levels: 8 positive and 7 negative normal quantiles plus an exact zero, scaled to [-1, 1]."""
    normal = torch.distributions.Normal(0.0, 1.0)
    positive = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values
    return (levels / levels.max()).float()


def int4_levels() -> torch.Tensor:
    """Symmetric absmax INT4: the integers -7..7 divided by 7 (15 evenly spaced levels; code -8 stays unused)."""
    return torch.arange(-7, 8, dtype=torch.float32) / 7


def quantize_blockwise(weight: torch.Tensor, levels: torch.Tensor, blocksize: int = 64) -> Quantized:
    """Absmax-scale each block of `blocksize` values and snap each value to the nearest of `levels`."""
    if blocksize < 1:
        raise ValueError(f"blocksize must be a positive whole number, got {blocksize}.")
    blocks = pad_to_blocks(weight, blocksize)
    levels = levels.to(blocks.device)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / absmax.clamp_min(torch.finfo(torch.float32).tiny)[:, None]
    codes = (scaled.unsqueeze(-1) - levels).abs().argmin(dim=-1)
    return Quantized(codes=codes, scales=absmax, shape=tuple(weight.shape), levels=levels)


def round_trip_error(weight: torch.Tensor, levels: torch.Tensor, blocksize: int = 64) -> dict[str, float]:
    """Quantize then dequantize `weight`; return mean absolute, root-mean-square and maximum errors."""
    restored = quantize_blockwise(weight, levels, blocksize).dequantize()
    error = (restored - weight.detach().float()).flatten()
    return {
        "mean_abs": float(error.abs().mean()),
        "rmse": float(error.pow(2).mean().sqrt()),
        "max_abs": float(error.abs().max()),
    }


# ---- the re-quantization confound, and what bitsandbytes really stores -------------------------------------------


def distinct_per_block(weight: torch.Tensor, blocksize: int = 32) -> int:
    """The most distinct values any block of `blocksize` consecutive weights holds.

    A tensor dequantized from a 4-bit GGUF type (Q4_0, Q4_1: 32 weights per block) holds at most 16 per block:
    its weights already sit on a 4-bit grid.
    """
    blocks = pad_to_blocks(weight, blocksize)
    return int(blocks.sort(dim=1).values.diff(dim=1).ne(0).sum(dim=1).max()) + 1


def gaussian_like(weight: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A normal tensor with the shape and standard deviation of `weight` (on no grid at all)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(weight.shape, generator=generator) * weight.detach().float().std()


def off_grid(weight: torch.Tensor, noise: float = 0.25, seed: int = 0) -> torch.Tensor:
    """`weight` plus normal noise of `noise` times its standard deviation: moved off any grid it sat on."""
    return weight.detach().float() + noise * gaussian_like(weight, seed)


def compare_formats(tensors: dict[str, torch.Tensor], blocksize: int = 64) -> dict[str, dict[str, float]]:
    """Per tensor: the round-trip RMSE of NF4 and of INT4 (blocks of `blocksize`) and their ratio."""
    table = {}
    for label, tensor in tensors.items():
        nf4 = round_trip_error(tensor, nf4_levels(), blocksize)["rmse"]
        int4 = round_trip_error(tensor, int4_levels(), blocksize)["rmse"]
        table[label] = {"NF4 rmse": nf4, "INT4 rmse": int4, "NF4 / INT4": nf4 / int4}
    return table


def _tensor_bytes(value: object) -> int:
    return value.numel() * value.element_size() if isinstance(value, torch.Tensor) else 0


def block_constant_bytes(model: torch.nn.Module) -> int:
    """Bytes of the per-block absmax constants of every 4-bit weight (bitsandbytes keeps them in `quant_state`).

    With double quantization: the 8-bit absmaxes, their fp32 second-level absmaxes and the offset. The 16- and
    256-entry lookup tables are left out: they are per-type constants, not per-block storage.
    `model.get_memory_footprint()` counts parameters and buffers only, so it misses all of this.
    """
    total = 0
    for param in model.parameters():
        state = getattr(param, "quant_state", None)
        if state is None:
            continue
        total += _tensor_bytes(state.absmax) + _tensor_bytes(getattr(state, "offset", None))
        nested = getattr(state, "state2", None)
        if nested is not None:
            total += _tensor_bytes(nested.absmax)
    return total


def stored_bytes(model: torch.nn.Module) -> int:
    """What the model really keeps: `get_memory_footprint()` plus the 4-bit block constants it does not count."""
    return model.get_memory_footprint() + block_constant_bytes(model)
