"""Runtime detection and the FAST switch."""

import json

import pytest

from workbook.core import config, runtime


def test_detect_is_json_ready_and_complete():
    info = runtime.detect()
    json.dumps(info)
    assert info["platform"] in {"colab", "local"}
    assert info["device"] in {"cpu", "cuda"}
    assert {"torch", "transformers", "peft", "trl"} <= set(info["packages"])
    assert info["packages"]["torch"]


def test_summary_mentions_the_essentials():
    text = runtime.summary()
    assert "Platform" in text and "GPU" in text and "Compute" in text and "torch" in text


@pytest.mark.parametrize(
    ("gpu", "dtype", "flags", "trainable_fp32"),
    [
        ({"available": False}, "float32", (False, False, True), True),
        ({"available": True, "bf16_native": False}, "float16", (False, True, False), True),  # a T4 (7.5)
        ({"available": True, "bf16_native": True}, "bfloat16", (True, False, False), False),  # Ampere and newer
    ],
)
def test_one_precision_policy_follows_the_hardware(gpu, dtype, flags, trainable_fp32):
    policy = runtime.precision(gpu)
    assert policy.compute_dtype == dtype and str(policy.torch_dtype()) == f"torch.{dtype}"
    assert (policy.bf16, policy.fp16, policy.use_cpu) == flags
    assert policy.trainable_fp32 is trainable_fp32


def test_trainable_weights_go_to_fp32_where_the_policy_says(tiny_llama):
    import peft
    import torch

    model = peft.get_peft_model(tiny_llama[0], peft.LoraConfig(r=2, target_modules=["q_proj"]))
    model.to(torch.bfloat16)  # what TRL does to the adapters of a 4-bit model
    t4 = runtime.precision({"available": True, "bf16_native": False})
    ampere = runtime.precision({"available": True, "bf16_native": True})
    assert runtime.keep_trainable_fp32(model, ampere) == ["bfloat16"]
    assert runtime.keep_trainable_fp32(model, t4) == ["float32"]
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    assert frozen == {torch.bfloat16}  # only the trainable weights change


def test_core_imports_no_torch_at_import_time():
    """The infrastructure layer stays cheap to import: torch and friends load inside the functions that need them."""
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, workbook.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__): importlib.import_module('workbook.core.' + m.name)\n"
        "heavy = {'torch', 'transformers', 'peft', 'trl', 'bitsandbytes', 'datasets'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_summary_describes_a_t4():
    info = runtime.detect()
    info["gpu"] = {
        "available": True,
        "name": "Tesla T4",
        "compute_capability": "7.5",
        "vram_gb": 14.74,
        "cuda_version": "12.8",
        "bf16_native": False,
    }
    assert "Tesla T4" in runtime.summary(info) and "no native bf16" in runtime.summary(info)


def test_missing_packages_are_reported_as_none():
    assert runtime.package_versions(("surely-not-installed-pkg",)) == {"surely-not-installed-pkg": None}


@pytest.mark.parametrize(("value", "fast"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_fast_switch(monkeypatch, value, fast):
    monkeypatch.setenv(config.FAST_ENV, value)
    assert config.is_fast() is fast
    assert config.pick("small", "big") == ("small" if fast else "big")


def test_badge_points_at_the_configured_repository():
    badge = config.colab_badge("chapters/00_setup.ipynb")
    assert config.REPO_SLUG in badge and badge.endswith("chapters/00_setup.ipynb)")
