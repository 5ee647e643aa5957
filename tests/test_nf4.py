"""NF4 levels and blockwise 4-bit quantization, checked against bitsandbytes."""

from __future__ import annotations

import pytest
import torch

from workbook.topics.memory import PRECISION_BYTES
from workbook.topics.nf4 import bits_per_param, int4_levels, nf4_levels, quantize_blockwise, round_trip_error


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
    assert quantized.absmax.shape == (3,)
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


def test_bits_per_param_agrees_with_the_memory_table():
    assert bits_per_param() == 4.5 == PRECISION_BYTES["nf4"] * 8
    assert bits_per_param(double_quant=True) == pytest.approx(PRECISION_BYTES["nf4-dq"] * 8)
    assert bits_per_param(double_quant=True) == pytest.approx(4.127, abs=1e-3)
    with pytest.raises(ValueError, match="blocksize"):
        bits_per_param(blocksize=0)
