"""workbook.labs.provenance: the manifest records what ran, read back from the trained model, on either Lab 1 path.

Both paths are built from the tiny random Llama in real 4-bit NF4 on the CPU: the plain path as the notebook loads
it (BitsAndBytesConfig + prepare_model_for_kbit_training + LoRA dropout 0.05), the Unsloth path as Unsloth leaves
it (its own pre-quantized checkpoint with modules kept in 16-bit, loaded from the Hub, LoRA dropout 0.0).
"""

from __future__ import annotations

import pytest
import torch

from workbook.labs.provenance import lora_applied, manifest_fields, not_fp32_outside_4bit, parameter_storage

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SETTINGS = {  # what the notebook asks for; the read-back must win where the model differs
    "model_id": "Qwen/Qwen2.5-1.5B-Instruct",
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "target_modules": TARGETS,
    "quantization": "nf4 + double quant",
    "learning_rate": 2e-4,
}
UNSLOTH_REPO = "unsloth/Qwen2.5-1.5B-Instruct-unsloth-bnb-4bit"


def _nf4(**extra):
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, **extra)


def _lora(model, dropout):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=16, lora_alpha=32, lora_dropout=dropout, target_modules=TARGETS, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


@pytest.fixture
def saved_tiny(tiny_llama, tmp_path):
    folder = tmp_path / "tiny-llama"
    tiny_llama[0].save_pretrained(folder)
    return folder


def test_plain_path_records_the_notebook_recipe(saved_tiny):
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        saved_tiny, quantization_config=_nf4(bnb_4bit_compute_dtype=torch.float32), dtype=torch.float32
    )
    trained = _lora(prepare_model_for_kbit_training(model, use_gradient_checkpointing=False), dropout=0.05)
    fields = manifest_fields(trained, SETTINGS, "Qwen/Qwen2.5-1.5B-Instruct", "transformers+peft+trl")

    model_record = fields["model"]
    # a local folder: its name (never this machine's path), and no commit
    assert model_record["id"] == f"local:{saved_tiny.name}" and model_record["revision"] is None
    assert model_record["requested_id"] == "Qwen/Qwen2.5-1.5B-Instruct"
    quant = model_record["quantization"]
    assert (quant["method"], quant["bits"], quant["quant_type"], quant["double_quant"]) == (
        "bitsandbytes",
        4,
        "nf4",
        True,
    )
    assert quant["compute_dtype"] == "float32" and quant["skip_modules"] is None
    assert quant["layers_4bit"] == 2 * len(TARGETS) and quant["layer_quant_types"] == ["nf4"]
    hyper = fields["hyperparameters"]
    assert hyper["quantization"] == "nf4 + double quant (bitsandbytes 4-bit), compute float32"
    assert (hyper["lora_r"], hyper["lora_alpha"], hyper["lora_dropout"]) == (16, 32, 0.05)
    assert hyper["target_modules"] == sorted(TARGETS) and hyper["learning_rate"] == 2e-4
    assert hyper["model_id"] == f"local:{saved_tiny.name}"


def test_unsloth_path_records_its_checkpoint_and_no_dropout(saved_tiny, tmp_path):
    from transformers import AutoModelForCausalLM

    # Unsloth's Hub checkpoint is saved already quantized, with some modules left in 16-bit ("dynamic" 4-bit).
    skipped = ["lm_head", "model.layers.0.mlp"]
    quantized = AutoModelForCausalLM.from_pretrained(
        saved_tiny,
        quantization_config=_nf4(bnb_4bit_compute_dtype=torch.bfloat16, llm_int8_skip_modules=skipped),
        dtype=torch.float32,
    )
    repo = tmp_path / "unsloth-checkpoint"
    quantized.save_pretrained(repo)
    model = AutoModelForCausalLM.from_pretrained(repo, dtype=torch.float32)  # its config.json brings the recipe
    model.config._name_or_path, model.config._commit_hash = UNSLOTH_REPO, "0123abcd"  # as a Hub load sets them
    trained = _lora(model, dropout=0.0)
    fields = manifest_fields(trained, SETTINGS, "Qwen/Qwen2.5-1.5B-Instruct", "unsloth")

    model_record = fields["model"]
    assert (model_record["id"], model_record["revision"], model_record["library"]) == (
        UNSLOTH_REPO,
        "0123abcd",
        "unsloth",
    )
    quant = model_record["quantization"]
    assert quant["compute_dtype"] == "bfloat16" and quant["skip_modules"] == skipped
    assert quant["layers_4bit"] == 2 * len(TARGETS) - 3  # layer 0's gate/up/down stayed 16-bit
    hyper = fields["hyperparameters"]
    assert hyper["lora_dropout"] == 0.0  # what trained, not the 0.05 in SETTINGS
    assert hyper["model_id"] == UNSLOTH_REPO
    assert hyper["quantization"] == (
        "nf4 + double quant (bitsandbytes 4-bit), compute bfloat16, kept unquantized: lm_head, model.layers.0.mlp"
    )


def test_unquantized_model_and_missing_adapter(tiny_llama):
    model = tiny_llama[0]
    with pytest.raises(ValueError, match="no LoRA adapter"):
        lora_applied(model)
    fields = manifest_fields(_lora(model, dropout=0.1), SETTINGS, "x", "transformers+peft+trl")
    assert fields["model"]["quantization"]["method"] == "none" and fields["hyperparameters"]["lora_dropout"] == 0.1


def test_prepare_for_kbit_training_upcasts_every_parameter_that_is_not_4bit(saved_tiny, tiny_llama):
    """PEFT casts the bf16 embeddings, the untied lm_head and the norms to fp32, not only the norms."""
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        saved_tiny, quantization_config=_nf4(bnb_4bit_compute_dtype=torch.bfloat16), dtype=torch.bfloat16
    )
    before = not_fp32_outside_4bit(model)
    assert {"model.embed_tokens.weight", "lm_head.weight"} <= set(before) and any("norm" in name for name in before)
    storage = parameter_storage(model)
    linear = sum(m.weight.numel() for m in tiny_llama[0].modules() if isinstance(m, torch.nn.Linear)
                 if m is not tiny_llama[0].lm_head)
    assert storage["4-bit"] == linear and set(storage) == {"4-bit", "bfloat16"}
    prepared = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    assert not_fp32_outside_4bit(prepared) == []
    assert parameter_storage(prepared) == {"4-bit": storage["4-bit"], "float32": storage["bfloat16"]}
