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
