"""NF4 levels and blockwise 4-bit quantization, checked against bitsandbytes."""

from __future__ import annotations

import pytest
import torch

from workbook.topics.nf4 import (
    block_constant_bytes,
    compare_formats,
    distinct_per_block,
    gaussian_like,
    int4_levels,
    nf4_levels,
    off_grid,
    quantize_blockwise,
    round_trip_error,
    stored_bytes,
)
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


def test_distinct_values_per_block_reveal_a_4_bit_grid():
    import bitsandbytes.functional as bnbf

    weight = torch.randn(64, 96, generator=torch.Generator().manual_seed(0))
    assert distinct_per_block(weight, 32) == 32
    packed, state = bnbf.quantize_4bit(weight, blocksize=32, quant_type="nf4")
    assert distinct_per_block(bnbf.dequantize_4bit(packed, state), 32) <= 16
    assert distinct_per_block(off_grid(bnbf.dequantize_4bit(packed, state)), 32) == 32


def test_nf4_beats_int4_on_and_off_a_grid():
    weight = torch.randn(128, 256, generator=torch.Generator().manual_seed(1)) * 0.02
    table = compare_formats({"normal": weight, "gaussian_like": gaussian_like(weight), "off": off_grid(weight)})
    assert all(row["NF4 / INT4"] < 1 for row in table.values())
    assert gaussian_like(weight).std().item() == pytest.approx(weight.std().item(), rel=0.05)


def _tiny_4bit(tmp_path, double_quant: bool, dtype=torch.float32, tied: bool = True):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=256, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tied)  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny")
    nf4 = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=double_quant,
                             bnb_4bit_compute_dtype=dtype)  # fmt: skip
    return AutoModelForCausalLM.from_pretrained(tmp_path / "tiny", quantization_config=nf4, dtype=dtype)


def test_block_constants_are_what_the_footprint_misses(tmp_path):
    from workbook.topics.memory import bits_per_param

    plain, double = _tiny_4bit(tmp_path, False), _tiny_4bit(tmp_path, True)
    linear = 2 * (128 * 128 * 2 + 64 * 128 * 2 + 256 * 128 * 3)
    assert plain.get_memory_footprint() == double.get_memory_footprint()  # the footprint cannot tell them apart
    assert block_constant_bytes(plain) == linear * (bits_per_param() - 4) / 8
    assert block_constant_bytes(double) == pytest.approx(linear * (bits_per_param(double_quant=True) - 4) / 8, rel=0.1)
    assert stored_bytes(plain) - stored_bytes(double) == block_constant_bytes(plain) - block_constant_bytes(double)


def test_peft_prepare_upcasts_every_parameter_that_is_not_4_bit(tmp_path):
    from peft import prepare_model_for_kbit_training

    model = _tiny_4bit(tmp_path, True, torch.bfloat16, tied=False)
    assert model.model.embed_tokens.weight.dtype == torch.bfloat16
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    kept = {name: p.dtype for name, p in model.named_parameters() if type(p).__name__ != "Params4bit"}
    assert {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"} <= set(kept)
    assert set(kept.values()) == {torch.float32}  # embeddings and the untied lm_head too, not only the norms
