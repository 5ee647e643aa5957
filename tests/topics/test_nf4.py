"""NF4 levels and blockwise 4-bit quantization, checked against bitsandbytes."""

from __future__ import annotations

import pytest
import torch

from workbook.topics.nf4 import int4_levels, nf4_levels, quantize_blockwise, round_trip_error
from workbook.topics.quantization import Quantized, absmax_quantize


def test_nf4_levels_shape_and_symmetry():
    levels = nf4_levels()
    assert levels.shape == (16,)
    assert levels.min() == -1 and levels.max() == 1 and (levels == 0).sum() == 1
    assert torch.all(levels[1:] > levels[:-1])
    assert (levels > 0).sum() == 8 and (levels < 0).sum() == 7


def test_nf4_levels_match_bitsandbytes():
    functional = pytest.importorskip("bitsandbytes.functional")
    assert torch.allclose(nf4_levels(), functional.get_4bit_type("nf4", device="cpu"), atol=1e-6)


def test_round_trip_matches_bitsandbytes_dequantize():
    functional = pytest.importorskip("bitsandbytes.functional")
    torch.manual_seed(0)
    weight = torch.randn(64, 128) * 0.05
    packed, state = functional.quantize_4bit(weight, blocksize=64, quant_type="nf4")
    theirs = functional.dequantize_4bit(packed, state)
    ours = quantize_blockwise(weight, nf4_levels(), 64).dequantize()
    assert (ours - theirs).abs().max() < 1e-6


def test_nf4_beats_int4_on_normal_weights():
    torch.manual_seed(0)
    weight = torch.randn(256, 256) * 0.02
    assert round_trip_error(weight, nf4_levels())["rmse"] < round_trip_error(weight, int4_levels())["rmse"]


def test_int4_levels_are_even():
    levels = int4_levels()
    assert levels.shape == (15,) and torch.allclose(levels[1:] - levels[:-1], torch.full((14,), 1 / 7))


def test_padding_keeps_shape_and_values_on_levels():
    weight = torch.randn(5, 7)  # 35 values: not a multiple of the block size
    quantized = quantize_blockwise(weight, int4_levels(), blocksize=16)
    restored = quantized.dequantize()
    assert restored.shape == weight.shape
    assert quantized.scales.shape == (3,)
    assert (restored.abs().max() - weight.abs().max()).abs() < 1e-6  # absmax is represented exactly


@pytest.mark.parametrize(
    "weight, blocksize, message",
    [
        (torch.empty(0), 64, "empty"),
        (torch.tensor([1.0, float("inf")]), 64, "NaN or inf"),
        (torch.ones(4), 0, "blocksize"),
    ],
)
def test_bad_input_is_refused(weight, blocksize, message):
    with pytest.raises(ValueError, match=message):
        quantize_blockwise(weight, nf4_levels(), blocksize)


def test_one_quantized_type_for_codebooks_and_integer_grids():
    weight = torch.randn(5, 7)
    codebook = quantize_blockwise(weight, int4_levels(), blocksize=16)
    grid = absmax_quantize(weight, bits=4, block_size=16)
    assert type(codebook) is type(grid) is Quantized
    assert torch.allclose(codebook.dequantize(), grid.dequantize(), atol=1e-6)  # INT4 levels = the -7..7 grid
    assert torch.equal(int4_levels()[codebook.codes], grid.codes.float() / 7)
