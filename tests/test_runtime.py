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
    ("gpu", "dtype"),
    [
        ({"available": False}, "float32"),
        ({"available": True, "bf16_native": False}, "float16"),  # a T4, compute capability 7.5
        ({"available": True, "bf16_native": True}, "bfloat16"),  # Ampere and newer
    ],
)
def test_compute_dtype_follows_the_hardware(gpu, dtype):
    assert runtime.compute_dtype_name(gpu) == dtype


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
