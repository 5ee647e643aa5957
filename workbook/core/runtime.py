"""Runtime detection: where the notebook runs, which accelerator it has, and which versions are installed.

`detect()` returns a plain dict (the labs store it as environment evidence); `summary()` formats it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

from workbook.core.config import is_fast

TRACKED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "bitsandbytes",
    "safetensors",
    "gguf",
    "ipywidgets",
    "matplotlib",
    "unsloth",
    "nbgrader",
)


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package, or None when it is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def gpu_info() -> dict[str, Any]:
    """CUDA device facts, or `{"available": False}` when torch sees no GPU."""
    import torch

    if not torch.cuda.is_available():
        return {"available": False}
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    major, minor = props.major, props.minor
    return {
        "available": True,
        "name": props.name,
        "compute_capability": f"{major}.{minor}",
        "vram_gb": round(props.total_memory / 1024**3, 2),
        "cuda_version": torch.version.cuda,
        # Ampere (8.0) and newer compute in bf16 natively; a T4 (7.5) only emulates it.
        "bf16_native": major >= 8,
    }


def compute_dtype_name(gpu: dict[str, Any] | None = None) -> str:
    """The dtype the course trains and runs in: fp32 on CPU, fp16 before Ampere, bf16 from Ampere on."""
    gpu = gpu_info() if gpu is None else gpu
    if not gpu.get("available"):
        return "float32"
    return "bfloat16" if gpu.get("bf16_native") else "float16"


def detect() -> dict[str, Any]:
    """Everything the course needs to know about this runtime, as a JSON-friendly dict."""
    gpu = gpu_info()
    return {
        "platform": "colab" if in_colab() else "local",
        "python": platform.python_version(),
        "os": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": "cuda" if gpu["available"] else "cpu",
        "gpu": gpu,
        "compute_dtype": compute_dtype_name(gpu),
        "fast": is_fast(),
        "packages": package_versions(),
    }


def summary(info: dict[str, Any] | None = None) -> str:
    """A short human-readable report of `detect()`."""
    info = detect() if info is None else info
    gpu = info["gpu"]
    lines = [
        f"Platform : {info['platform']} (Python {info['python']}, {info['cpu_count']} CPU cores)",
        f"Mode     : {'FAST (small steps and data)' if info['fast'] else 'full'}",
    ]
    if gpu.get("available"):
        bf16 = "native bf16" if gpu["bf16_native"] else "no native bf16"
        lines.append(
            f"GPU      : {gpu['name']}, compute capability {gpu['compute_capability']}, "
            f"{gpu['vram_gb']} GB, CUDA {gpu['cuda_version']}, {bf16}"
        )
    else:
        lines.append("GPU      : none (CPU run: the offline SmolLM2-135M-Instruct model)")
    lines.append(f"Compute  : {info['compute_dtype']}")
    installed = ", ".join(f"{k} {v}" for k, v in info["packages"].items() if v)
    missing = ", ".join(k for k, v in info["packages"].items() if not v)
    lines.append(f"Packages : {installed}")
    if missing:
        lines.append(f"Not installed: {missing}")
    return "\n".join(lines)
