"""The training-memory calculator reproduces the source lessons' figures and rejects bad input."""

import pytest

from workbook.topics.memory import (
    PRECISION_BYTES,
    bits_per_param,
    bytes_per_param,
    eight_b_accountings,
    full_finetune_memory,
    training_memory,
    weights_only_gb,
)


def test_7b_adam_mixed_precision_is_112_gb():
    estimate = training_memory(7e9, "bf16", "adam", mixed_precision=True)
    assert estimate.total_gb == pytest.approx(112.0)  # 2 + 2 + 4 + 4 + 4 bytes per parameter
    assert estimate.gpus_needed == 2


def test_70b_fp32_weights_are_280_gb():
    assert weights_only_gb(70e9, "fp32") == pytest.approx(280.0)


def test_qlora_trains_only_the_adapter():
    estimate = training_memory(8e9, "nf4-dq", "adam", trainable_params=42e6)
    assert 4.0 < estimate.total_gb < 5.0
    assert estimate.gpus_needed == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"params": -1}, "positive"),
        ({"params": 1e15}, "beyond any released model"),
        ({"params": 7e9, "weight_precision": "fp12"}, "Unknown precision"),
        ({"params": 7e9, "optimizer": "lion"}, "Unknown optimizer"),
        ({"params": 7e9, "weight_precision": "nf4"}, "cannot update quantized"),
        ({"params": 7e9, "weight_precision": "fp32", "mixed_precision": True}, "Mixed precision"),
        ({"params": 7e9, "trainable_params": 8e9}, "cannot exceed"),
    ],
)
def test_bad_input_is_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training_memory(**kwargs)


def test_seed_figure_7b_adam_mixed_is_112_gb():
    est = full_finetune_memory(7)
    assert est.total_gb == pytest.approx(112)
    assert bytes_per_param(est, 7) == 16
    assert est.parts["fp32 master copy"] == pytest.approx(28e9)
    assert est.parts["Adam m"] + est.parts["Adam v"] == pytest.approx(56e9)
    assert est.gpus_needed == 2


def test_eight_b_accountings():
    gb = [round(a.estimate.total_gb, 1) for a in eight_b_accountings()]
    assert gb == [64.2, 96.4, 128.5]
    assert [a.per_param for a in eight_b_accountings()] == [8, 12, 16]
    assert max(a.estimate.gpus_needed for a in eight_b_accountings()) == 2  # never 10 x A100


def test_optimizers_and_precisions():
    assert full_finetune_memory(7, optimizer="SGD").total_gb == pytest.approx(56)
    assert full_finetune_memory(7, optimizer="8-bit Adam").total_gb == pytest.approx(70)
    assert full_finetune_memory(7, "fp32", "Adam", mixed_precision=False).total_gb == pytest.approx(112)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0,), "positive"),
        ((-3,), "positive"),
        ((True,), "positive"),
        ((7, "int4"), "not 'int4'"),
        ((7, "bf16", "Adagrad"), "Unknown optimizer"),
        ((7, "fp32", "Adam", True), "Mixed precision"),
        ((7, "bf16", "Adam", True, 0), "gpu_gb"),
    ],
)
def test_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        full_finetune_memory(*args)


def test_one_full_finetune_formula_for_chapter_02_and_the_qlora_table():
    from workbook.topics.qlora_table import LLAMA_31_8B, hardware_table

    row = next(r for r in hardware_table() if r["model"] == LLAMA_31_8B.name)
    expected = training_memory(LLAMA_31_8B.counts()["total"], "bf16", "adam", mixed_precision=True).total_gb
    assert row["full FT, Adam (GB)"] == round(full_finetune_memory(LLAMA_31_8B.counts()["total"] / 1e9).total_gb, 1)
    assert row["full FT, Adam (GB)"] == round(expected, 1)


def test_nf4_bits_per_param_is_the_memory_table_figure():
    assert bits_per_param() == 4.5 == PRECISION_BYTES["nf4"] * 8
    assert bits_per_param(double_quant=True) == pytest.approx(PRECISION_BYTES["nf4-dq"] * 8)
    assert bits_per_param(double_quant=True) == pytest.approx(4.127, abs=1e-3)
    with pytest.raises(ValueError, match="blocksize"):
        bits_per_param(blocksize=0)


def test_double_quant_saving():
    from workbook.topics.memory import double_quant_saving_gb

    assert double_quant_saving_gb(1e9) == pytest.approx((4.5 - bits_per_param(double_quant=True)) / 8)
