"""Runtime detection and the course's one precision policy.

`detect()` returns a plain dict (the labs store it as environment evidence); `summary()` formats it.
`precision()` says how to train here: bf16 on Ampere and newer, fp16 compute with fp32 trainable weights on a
T4 (and other pre-Ampere GPUs), fp32 on CPU. Every notebook and lab takes its trainer flags from it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass
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


# Set to "1" to make any CUDA GPU take the T4 branch of the precision policy (see `gpu_info`).
EMULATE_T4_ENV = "WORKBOOK_EMULATE_T4"


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def cpu_threads() -> int:
    """Threads a CPU job may use (llama.cpp here): OMP_NUM_THREADS when set, as the test workers set it, else every
    core. llama.cpp's threads spin while they wait, so more threads than free cores makes it crawl."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return os.cpu_count() or 1


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
    """CUDA device facts, or `{"available": False}` when torch sees no GPU.

    With `WORKBOOK_EMULATE_T4=1` any CUDA GPU reports itself as a T4 (compute capability 7.5, no native bf16), so
    `precision()` takes the T4 branch: fp16 compute with fp32 trainable weights (`python -m bench.gpu` uses it).
    """
    import torch

    if not torch.cuda.is_available():
        return {"available": False}
    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    major, minor = props.major, props.minor
    name = props.name
    if os.environ.get(EMULATE_T4_ENV) == "1":
        major, minor, name = 7, 5, f"{name} (emulating T4)"
    return {
        "available": True,
        "name": name,
        "compute_capability": f"{major}.{minor}",
        "vram_gb": round(props.total_memory / 1024**3, 2),
        "cuda_version": torch.version.cuda,
        # Ampere (8.0) and newer compute in bf16 natively; a T4 (7.5) only emulates it.
        "bf16_native": major >= 8,
    }


@dataclass(frozen=True)
class Precision:
    """How to compute and train on this machine. `bf16`, `fp16` and `use_cpu` are the trainer flags."""

    compute_dtype: str  # "bfloat16", "float16" or "float32": weights and activations of the frozen model
    bf16: bool
    fp16: bool
    use_cpu: bool

    @property
    def trainable_fp32(self) -> bool:
        """Trainable weights must be fp32: fp16 Adam state underflows, and bf16 drops small updates."""
        return not self.bf16

    def torch_dtype(self) -> Any:
        """`compute_dtype` as a torch dtype."""
        import torch

        return getattr(torch, self.compute_dtype)


def precision(gpu: dict[str, Any] | None = None) -> Precision:
    """The policy for this machine (or for the `gpu_info()`-shaped dict given)."""
    gpu = gpu_info() if gpu is None else gpu
    if not gpu.get("available"):
        return Precision("float32", bf16=False, fp16=False, use_cpu=True)
    if gpu.get("bf16_native"):
        return Precision("bfloat16", bf16=True, fp16=False, use_cpu=False)
    return Precision("float16", bf16=False, fp16=True, use_cpu=False)


def keep_trainable_fp32(model: Any, policy: Precision | None = None) -> list[str]:
    """Cast the trainable parameters to fp32 where the policy asks for it; returns their dtypes afterwards.

    Call it after building a trainer and before `train()` (which creates the optimizer): TRL casts the adapters
    of a 4-bit model to bf16 whatever `fp16`/`bf16` say, and the fp16 grad scaler cannot unscale bf16 (TRL #4901).
    """
    import torch

    policy = policy or precision()
    trainable = [p for p in model.parameters() if p.requires_grad]
    if policy.trainable_fp32:
        for param in trainable:
            param.data = param.data.to(torch.float32)
    return sorted({str(p.dtype).removeprefix("torch.") for p in trainable})


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
        "compute_dtype": precision(gpu).compute_dtype,
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
