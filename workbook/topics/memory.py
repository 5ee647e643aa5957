"""Training-memory arithmetic shared by chapter 02 (full fine-tuning), chapter 05 (NF4 storage and the QLoRA
hardware table) and chapter 06 (the size table).

Sizes are in decimal gigabytes (1 GB = 1e9 bytes), as GPU vendors and the source lessons quote them.
Activations, the CUDA context and fragmentation are left out: they depend on batch size and sequence length,
and are the reason real runs need headroom beyond these figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

GB = 1e9


def bits_per_param(
    bits: int = 4,
    blocksize: int = 64,
    absmax_bits: int = 32,
    double_quant: bool = False,
    second_blocksize: int = 256,
    second_absmax_bits: int = 32,
) -> float:
    """Storage per weight of a blockwise-quantized tensor: the code, plus the block's absmax shared by `blocksize`
    weights (NF4: 4 + 32/64 = 4.5 bits).

    With double quantization the absmax values are themselves quantized to 8 bits in blocks of
    `second_blocksize`, each with one `second_absmax_bits` constant (NF4: 4 + 8/64 + 32/(64*256) = 4.127 bits).
    """
    for name, value in (("bits", bits), ("blocksize", blocksize), ("second_blocksize", second_blocksize)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}.")
    if not double_quant:
        return bits + absmax_bits / blocksize
    return bits + 8 / blocksize + second_absmax_bits / (blocksize * second_blocksize)


def double_quant_saving_gb(quantized_params: float, blocksize: int = 64) -> float:
    """GB that double quantization saves on `quantized_params` NF4 weights (only the 4-bit layers carry absmaxes)."""
    saved_bits = bits_per_param(blocksize=blocksize) - bits_per_param(blocksize=blocksize, double_quant=True)
    return quantized_params * saved_bits / 8 / GB


# Bytes per stored value; nf4 carries its block constants (see bits_per_param).
PRECISION_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "int8": 1.0,
    "int4": 0.5,
    "nf4": bits_per_param() / 8,
    "nf4-dq": bits_per_param(double_quant=True) / 8,
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


# The chapter 02 calculator's menus: optimizer label -> training_memory's name, and trainable weight formats.
OPTIMIZERS = {"Adam": "adam", "8-bit Adam": "adam-8bit", "SGD": "sgd"}
WEIGHT_PRECISIONS = ("bf16", "fp16", "fp32")


def full_finetune_memory(
    params_billion: float,
    weight_precision: str = "bf16",
    optimizer: str = "Adam",
    mixed_precision: bool = True,
    gpu_gb: float = 80.0,
) -> MemoryEstimate:
    """Memory to fully fine-tune a model of `params_billion` billion parameters (activations excluded).

    optimizer: "Adam", "8-bit Adam" or "SGD". mixed_precision: 16-bit working weights plus an fp32 master copy.
    """
    if isinstance(params_billion, bool) or not isinstance(params_billion, (int, float)) or not params_billion > 0:
        raise ValueError(f"params_billion must be a positive number (e.g. 7 for a 7B model), got {params_billion!r}.")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
    if weight_precision not in WEIGHT_PRECISIONS:
        raise ValueError(f"Full fine-tuning trains {', '.join(WEIGHT_PRECISIONS)} weights, not {weight_precision!r}.")
    if mixed_precision and weight_precision == "fp32":
        raise ValueError("Mixed precision keeps 16-bit working weights: pick bf16 or fp16, or untick mixed precision.")
    if not gpu_gb > 0:
        raise ValueError(f"gpu_gb must be positive, got {gpu_gb!r}.")
    return training_memory(
        params_billion * 1e9, weight_precision, OPTIMIZERS[optimizer], mixed_precision, gpu_gb=gpu_gb
    )


def bytes_per_param(estimate: MemoryEstimate, params_billion: float) -> float:
    """Total bytes stored per parameter."""
    return estimate.total_bytes / (params_billion * 1e9)


@dataclass(frozen=True)
class Accounting:
    """One way of adding up the bill for the same model."""

    label: str
    estimate: MemoryEstimate
    params_billion: float

    @property
    def per_param(self) -> float:
        return bytes_per_param(self.estimate, self.params_billion)


def eight_b_accountings(params_billion: float = 8.03) -> list[Accounting]:
    """Three readings of "8B: fp16 weights + gradients + Adam states (2x parameters) = 80+ GB".

    Llama 3 8B has 8.03e9 parameters. Only the readings with fp32 Adam moments reach 80 GB.
    """
    n = params_billion * 1e9
    half_states = MemoryEstimate(
        parts={"weights": 2 * n, "gradients": 2 * n, "Adam m": 2 * n, "Adam v": 2 * n},
        notes=["(activations, CUDA context and fragmentation not included)"],
    )
    return [
        Accounting("fp16 weights + grads, Adam m and v in fp16", half_states, params_billion),
        Accounting(
            "fp16 weights + grads, Adam m and v in fp32",
            full_finetune_memory(params_billion, "fp16", "Adam", mixed_precision=False),
            params_billion,
        ),
        Accounting(
            "mixed precision: the above + fp32 master copy",
            full_finetune_memory(params_billion, "fp16", "Adam", mixed_precision=True),
            params_billion,
        ),
    ]
