"""4-bit NormalFloat (NF4) against uniform INT4, written out so each step can be checked.

NF4's 16 levels are quantiles of a standard normal, rescaled to [-1, 1] (QLoRA paper, Dettmers et al. 2023,
section 3 and appendix E). Both formats quantize a tensor in blocks: divide each block by its largest
absolute value (absmax), snap every number to the nearest level, and store the level's 4-bit index plus the
block's absmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

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


@dataclass(frozen=True)
class Quantized:
    """A blockwise 4-bit tensor: one level index per value and one absmax per block."""

    codes: torch.Tensor  # int64 level index per value, flattened
    absmax: torch.Tensor  # one float per block
    levels: torch.Tensor
    shape: tuple[int, ...]
    blocksize: int

    def dequantize(self) -> torch.Tensor:
        values = self.levels[self.codes].view(-1, self.blocksize) * self.absmax[:, None]
        return values.flatten()[: _numel(self.shape)].view(self.shape)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


def quantize_blockwise(weight: torch.Tensor, levels: torch.Tensor, blocksize: int = 64) -> Quantized:
    """Absmax-scale each block of `blocksize` values and snap each value to the nearest of `levels`."""
    if blocksize < 1:
        raise ValueError(f"blocksize must be a positive whole number, got {blocksize}.")
    if weight.numel() == 0:
        raise ValueError("Cannot quantize an empty tensor.")
    flat = weight.detach().float().flatten()
    if not torch.isfinite(flat).all():
        raise ValueError("The tensor contains NaN or inf; absmax scaling needs finite values.")
    padding = (-flat.numel()) % blocksize
    blocks = torch.nn.functional.pad(flat, (0, padding)).view(-1, blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / absmax.clamp_min(torch.finfo(torch.float32).tiny)[:, None]
    codes = (scaled.unsqueeze(-1) - levels).abs().argmin(dim=-1).flatten()
    return Quantized(codes=codes, absmax=absmax, levels=levels, shape=tuple(weight.shape), blocksize=blocksize)


def round_trip_error(weight: torch.Tensor, levels: torch.Tensor, blocksize: int = 64) -> dict[str, float]:
    """Quantize then dequantize `weight`; return mean absolute, root-mean-square and maximum errors."""
    restored = quantize_blockwise(weight, levels, blocksize).dequantize()
    error = (restored - weight.detach().float()).flatten()
    return {
        "mean_abs": float(error.abs().mean()),
        "rmse": float(error.pow(2).mean().sqrt()),
        "max_abs": float(error.abs().max()),
    }


def bits_per_param(
    bits: int = 4,
    blocksize: int = 64,
    absmax_bits: int = 32,
    double_quant: bool = False,
    second_blocksize: int = 256,
    second_absmax_bits: int = 32,
) -> float:
    """Storage per weight: the code, plus the block's absmax shared by `blocksize` weights.

    With double quantization the absmax values are themselves quantized to 8 bits in blocks of
    `second_blocksize`, each with one `second_absmax_bits` constant.
    """
    for name, value in (("bits", bits), ("blocksize", blocksize), ("second_blocksize", second_blocksize)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if not double_quant:
        return bits + absmax_bits / blocksize
    return bits + 8 / blocksize + second_absmax_bits / (blocksize * second_blocksize)
