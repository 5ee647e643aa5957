"""bench/gpu.py, the GPU check: the T4 switch, the stand-ins' shapes, a lost child process, and the whole script
end to end in --tiny mode on the CPU (every plain step passes; the Unsloth ones are skipped with their reason)."""

import json
import os
import subprocess
import sys
import types

import pytest

from bench import gpu, gpu_steps, standin
from workbook.core import runtime
from workbook.core.config import ROOT


@pytest.fixture
def h200(monkeypatch):
    """torch sees one H200, whatever this machine has."""
    import torch

    props = types.SimpleNamespace(name="NVIDIA H200", major=9, minor=0, total_memory=150_000_000_000)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    monkeypatch.delenv(runtime.EMULATE_T4_ENV, raising=False)


def test_t4_emulation_sends_any_gpu_down_the_t4_branch(h200, monkeypatch):
    real = runtime.gpu_info()
    assert (real["name"], real["compute_capability"], real["bf16_native"]) == ("NVIDIA H200", "9.0", True)
    assert runtime.precision(real).compute_dtype == "bfloat16" and gpu.memory_cap_gib(real) is None

    monkeypatch.setenv(runtime.EMULATE_T4_ENV, "1")
    t4 = runtime.gpu_info()
    assert (t4["name"], t4["compute_capability"], t4["bf16_native"]) == ("NVIDIA H200 (emulating T4)", "7.5", False)
    policy = runtime.precision(t4)
    assert (policy.compute_dtype, policy.bf16, policy.fp16, policy.trainable_fp32) == ("float16", False, True, True)
    assert gpu.memory_cap_gib(t4) == gpu.T4_MEMORY_GIB

    monkeypatch.setenv(runtime.EMULATE_T4_ENV, "0")
    assert runtime.gpu_info()["compute_capability"] == "9.0"


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("qwen2.5-1.5b-instruct", 1_543_714_304),
        ("smollm2-1.7b-instruct", 1_711_376_384),
        ("smollm2-135m-instruct", 134_515_008),  # the offline model's count (stack facts)
    ],
)
def test_standin_configs_have_the_real_models_parameter_counts(name, parameters):
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**standin.spec(name)["config"]))
    model.tie_weights()
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert model.lm_head.weight is model.model.embed_tokens.weight


def test_unsloth_steps_run_only_when_asked_for_on_a_gpu_with_unsloth(monkeypatch):
    monkeypatch.delenv("WORKBOOK_UNSLOTH", raising=False)
    assert gpu.skip_reason("plain", cuda=False) is None
    assert gpu.skip_reason("unsloth", cuda=True) == "Unsloth not requested (WORKBOOK_UNSLOTH=1)"
    monkeypatch.setenv("WORKBOOK_UNSLOTH", "1")
    assert gpu.skip_reason("unsloth", cuda=False) == "no CUDA GPU (Unsloth is the GPU path only)"
    monkeypatch.setattr(gpu.importlib.util, "find_spec", lambda name: None)
    assert gpu.skip_reason("unsloth", cuda=True) == "unsloth is not installed"


def test_a_child_that_dies_leaves_its_unreached_steps_failed(monkeypatch, tmp_path):
    def dies_after_one_step(command, cwd, env):
        (tmp_path / "plain.json").write_text(json.dumps({"steps": {"lab1_plain": {"status": "passed"}}}))
        return types.SimpleNamespace(returncode=137)

    monkeypatch.setattr(gpu.subprocess, "run", dies_after_one_step)
    args = types.SimpleNamespace(tiny=True, hub=False)
    results = gpu.run_child("plain", ["lab1_plain", "ch05_qlora"], args, tmp_path)
    assert results["lab1_plain"] == {"status": "passed"}
    lost = results["ch05_qlora"]
    assert lost["status"] == "failed" and lost["model"] == "smollm2-135m-instruct"
    assert lost["error"]["type"] == "ChildProcessError" and "137" in lost["error"]["message"]


def test_tiny_run_end_to_end_on_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    committed = gpu.RESULTS.stat().st_mtime_ns if gpu.RESULTS.exists() else None
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "WORKBOOK_UNSLOTH": "1"}
    env.pop(runtime.EMULATE_T4_ENV, None)
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu", "--tiny", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert committed == (gpu.RESULTS.stat().st_mtime_ns if gpu.RESULTS.exists() else None)  # never overwritten

    report = json.loads(out.read_text())
    assert report["passed"] is True and report["mode"] == "tiny stand-ins"
    assert report["gpu"] == {"available": False} and report["emulating_t4"] is False
    assert report["precision"]["compute_dtype"] == "float32"
    assert {"torch", "transformers", "peft", "trl", "bitsandbytes"} <= set(report["packages"])
    assert all(model["stand_in"] for model in report["models"].values())
    assert list(report["steps"]) == list(gpu_steps.STEPS)
    expected_steps = {"lab1_plain": 6, "ch05_qlora": 3, "sft_lora": 5, "ch03_dpo": 4}
    for name, step in report["steps"].items():
        if name in expected_steps:
            assert step["status"] == "passed", step
            assert step["steps"] == expected_steps[name] == len(step["losses"])
            assert step["finite"] and step["trainable_dtypes"] == ["float32"] and step["steps_per_s"] > 0
            assert step["first_answers"] and all(a.startswith(gpu_steps.STANDIN_NOTE) for a in step["first_answers"])
            assert step["model"] == gpu_steps.STEPS[name].model
        else:
            assert step["status"] == "skipped: no CUDA GPU (Unsloth is the GPU path only)"
    assert 0.65 < report["steps"]["ch03_dpo"]["losses"][0] < 0.7  # DPO starts at ln 2
    assert "stand-in, random weights" in done.stdout
