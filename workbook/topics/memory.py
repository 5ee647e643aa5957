"""Training-memory arithmetic shared by chapter 02 (full fine-tuning) and chapter 05 (QLoRA hardware table).

Sizes are in decimal gigabytes (1 GB = 1e9 bytes), as GPU vendors and the source lessons quote them.
Activations, the CUDA context and fragmentation are left out: they depend on batch size and sequence length,
and are the reason real runs need headroom beyond these figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

GB = 1e9

# Bytes per stored value. nf4 carries its block constants: 4 bits + 32/64 bits per 64-weight block = 4.5 bits
# with plain absmax; double quantization stores those constants in 8 bits (+ a second-level fp32 constant per
# 256 blocks): 4 + 8/64 + 32/(64*256) = 4.127 bits.
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "int8": 1.0,
    "int4": 0.5,
    "nf4": 4.5 / 8,
    "nf4-dq": (4 + 8 / 64 + 32 / (64 * 256)) / 8,
}

# Optimizer state per trained parameter, in bytes: Adam keeps m and v in fp32; 8-bit Adam keeps them in
# one byte each (plus tiny block constants, ignored); plain SGD keeps nothing.
OPTIMIZER_BYTES: dict[str, float] = {"adam": 8.0, "adam-8bit": 2.0, "sgd": 0.0}


@dataclass(frozen=True)
class MemoryEstimate:
    """A breakdown of training memory in bytes, and how many GPUs of a given size it needs."""

    parts: dict[str, float]
    gpu_gb: float = 80.0
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> float:
        return sum(self.parts.values())

    @property
    def total_gb(self) -> float:
        return self.total_bytes / GB

    @property
    def gpus_needed(self) -> int:
        return max(1, math.ceil(self.total_gb / self.gpu_gb - 1e-9))

    def table(self) -> str:
        """A plain-text breakdown, one line per part."""
        width = max(len(k) for k in self.parts)
        lines = [f"{name:<{width}}  {size / GB:10.2f} GB" for name, size in self.parts.items() if size]
        lines.append(f"{'total':<{width}}  {self.total_gb:10.2f} GB  -> {self.gpus_needed} x {self.gpu_gb:g} GB GPU")
        return "\n".join(lines + self.notes)


def _check(params: float, name: str) -> None:
    if not isinstance(params, (int, float)) or math.isnan(params) or params <= 0:
        raise ValueError(f"{name} must be a positive number of parameters, got {params!r}.")
    if params > 1e13:
        raise ValueError(f"{name}={params:.3g} is beyond any released model (the largest are ~2e12); check units.")


def training_memory(
    params: float,
    weight_precision: str = "bf16",
    optimizer: str = "adam",
    mixed_precision: bool = True,
    trainable_params: float | None = None,
    gpu_gb: float = 80.0,
) -> MemoryEstimate:
    """Memory to train a model, without activations.

    params: all parameters. weight_precision: how the (frozen or trained) weights are stored.
    optimizer: "adam", "adam-8bit" or "sgd". mixed_precision: keep an fp32 master copy of trained weights.
    trainable_params: None for full fine-tuning; the adapter size for LoRA/QLoRA (adapters train in 16-bit
    with an fp32 master copy when mixed_precision, like the full model).
    """
    _check(params, "params")
    if weight_precision not in PRECISION_BYTES:
        raise ValueError(f"Unknown precision {weight_precision!r}; choose from {sorted(PRECISION_BYTES)}.")
    if optimizer not in OPTIMIZER_BYTES:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose from {sorted(OPTIMIZER_BYTES)}.")
    if trainable_params is None:
        trained, trained_bytes = params, PRECISION_BYTES[weight_precision]
        if weight_precision in {"int8", "int4", "nf4", "nf4-dq"}:
            raise ValueError("Full fine-tuning cannot update quantized weights; use trainable_params (LoRA).")
        parts = {"weights": params * trained_bytes}
    else:
        _check(trainable_params, "trainable_params")
        if trainable_params > params:
            raise ValueError("trainable_params cannot exceed params.")
        trained, trained_bytes = trainable_params, 2.0
        parts = {"frozen base weights": params * PRECISION_BYTES[weight_precision], "adapter weights": trained * 2.0}
    if mixed_precision and trained_bytes >= 4:
        raise ValueError("Mixed precision means 16-bit weights with an fp32 master copy; pick fp16 or bf16.")
    parts["gradients"] = trained * trained_bytes
    parts["fp32 master copy"] = trained * 4.0 if mixed_precision else 0.0
    state = OPTIMIZER_BYTES[optimizer]
    if optimizer == "adam":
        parts["Adam m"], parts["Adam v"] = trained * state / 2, trained * state / 2
    else:
        parts[f"{optimizer} state"] = trained * state
    notes = ["(activations, CUDA context and fragmentation not included)"]
    return MemoryEstimate(parts=parts, gpu_gb=gpu_gb, notes=notes)


def weights_only_gb(params: float, precision: str) -> float:
    """Size of the weights alone at a precision, in GB (inference, no KV cache)."""
    _check(params, "params")
    if precision not in PRECISION_BYTES:
        raise ValueError(f"Unknown precision {precision!r}; choose from {sorted(PRECISION_BYTES)}.")
    return params * PRECISION_BYTES[precision] / GB
