"""Parameter counts from shapes and the QLoRA hardware table."""

from __future__ import annotations

import pytest

from workbook.topics.qlora_table import (
    ATTENTION,
    LLAMA_31_8B,
    SMOLLM2_135M,
    TABLE_MODELS,
    hardware_table,
    qlora_memory,
    smallest_gpu,
)


def test_shapes_reproduce_published_parameter_counts():
    assert SMOLLM2_135M.counts()["total"] == 134_515_008  # measured on the offline model
    assert LLAMA_31_8B.counts()["total"] == 8_030_261_248  # meta-llama/Llama-3.1-8B model card: 8.03B
    assert [round(s.counts()["total"] / 1e9) for s in TABLE_MODELS] == [8, 13, 34, 71]


def test_lora_counts_match_peft_figures():
    assert LLAMA_31_8B.lora_params(16) == 41_943_040  # PEFT print_trainable_parameters, all-linear r=16
    assert SMOLLM2_135M.lora_params(8, ATTENTION) == 30 * 8 * ((576 + 576) * 2 + (192 + 576) * 2)


def test_bad_lora_arguments():
    with pytest.raises(ValueError, match="at least 1"):
        LLAMA_31_8B.lora_params(0)
    with pytest.raises(ValueError, match="Unknown target modules"):
        LLAMA_31_8B.lora_params(8, ("qkv_proj",))


def test_qlora_without_the_upcast_keeps_embeddings_in_16_bit():
    estimate = qlora_memory(LLAMA_31_8B, upcast=False)
    assert estimate.parts["embeddings, lm_head, norms (bf16)"] == pytest.approx(2 * 2 * 128256 * 4096 + 2 * 65 * 4096)


def test_smallest_gpu():
    assert smallest_gpu(5.0).startswith("8 GB")
    assert smallest_gpu(6.5).startswith("12 GB")
    assert smallest_gpu(200).endswith("x 80 GB")
    with pytest.raises(ValueError):
        smallest_gpu(0)


def test_table_rows_grow_with_model_size():
    rows = hardware_table()
    assert [row["model"] for row in rows] == [s.name for s in TABLE_MODELS]
    qlora = [row["QLoRA (GB)"] for row in rows]
    assert qlora == sorted(qlora)
    assert all(row["QLoRA (GB)"] < row["LoRA bf16 (GB)"] < row["full FT, Adam (GB)"] for row in rows)


def test_shape_read_from_a_loaded_config_counts_the_real_model(offline_model):
    from workbook.topics.qlora_table import SMOLLM2_135M, LlamaShape

    model, _ = offline_model
    shape = LlamaShape.from_config(model.config, "loaded")
    assert shape.counts()["total"] == model.num_parameters() == SMOLLM2_135M.counts()["total"]


def test_peft_upcast_puts_llama_8b_qlora_at_8_5_gb():
    from workbook.topics.qlora_table import upcast_cost_gb

    peft_recipe, kept_bf16 = qlora_memory(LLAMA_31_8B), qlora_memory(LLAMA_31_8B, upcast=False)
    assert peft_recipe.total_gb == pytest.approx(8.48, abs=0.01)  # the recipe chapter 05 and Lab 1 run
    assert kept_bf16.total_gb == pytest.approx(6.37, abs=0.01)  # the reading that ignored the upcast
    unquantized = 2 * 128256 * 4096 + 65 * 4096
    assert upcast_cost_gb(LLAMA_31_8B) == pytest.approx(unquantized * 2 / 1e9)
    assert peft_recipe.parts["embeddings, lm_head, norms (fp32)"] == 4 * unquantized
    assert sum(v for k, v in peft_recipe.parts.items() if "dapter" in k or "Adam" in k) == 16 * 41_943_040


def test_seed_002_claims_are_recomputed():
    from workbook.topics.qlora_table import seed_002_claims

    claims = {row["claim"]: row for row in seed_002_claims()}
    assert claims["full fine-tuning of 70B"]["computed"] == pytest.approx(1128.86, abs=0.01)
    assert not claims["full fine-tuning of 70B"]["holds"]
    assert claims["double quantization saves (8B)"]["computed"] == pytest.approx(0.33, abs=0.01)
    assert claims["double quantization saves (70B)"]["computed"] == pytest.approx(3.19, abs=0.01)
    assert claims["QLoRA on 70B"]["holds"] and not claims["table: 7-8B with QLoRA"]["holds"]
    assert claims["trainable params, Llama-3-8B, r=16 all linear"]["computed"] == 41_943_040
