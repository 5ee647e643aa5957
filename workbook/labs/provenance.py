"""What actually ran in Lab 1, read back from the models themselves rather than from the settings asked for.

Unsloth, for one, swaps `Qwen/Qwen2.5-1.5B-Instruct` for its own pre-quantized checkpoint and trains without
dropout; the manifest must record that. Everything here reads attributes only: no transformers import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

LORA_KEYS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")


def _dtype_name(value: Any) -> str | None:
    return None if value is None else str(value).removeprefix("torch.")


def _is_4bit(param: Any) -> bool:
    return type(param).__name__ == "Params4bit"


def parameter_storage(model: Any) -> dict[str, int]:
    """How many weights the model stores in each form: "4-bit" (bitsandbytes, counted as the weights they stand
    for, not their packed bytes) or a dtype name such as "float32". Tied weights count once."""
    counts: dict[str, int] = {}
    for param in model.parameters():
        if _is_4bit(param):
            shape = getattr(getattr(param, "quant_state", None), "shape", None)
            key, count = "4-bit", math.prod(shape) if shape is not None else 2 * param.numel()
        else:
            key, count = _dtype_name(param.dtype), param.numel()
        counts[key] = counts.get(key, 0) + count
    return counts


def not_fp32_outside_4bit(model: Any) -> list[str]:
    """Floating-point parameters that are neither 4-bit nor fp32: after PEFT's `prepare_model_for_kbit_training`
    this is empty, since it upcasts every fp16/bf16 parameter that is not 4-bit (norms, embeddings, lm_head)."""
    return [
        name for name, param in model.named_parameters()
        if not _is_4bit(param) and param.is_floating_point() and _dtype_name(param.dtype) != "float32"
    ]  # fmt: skip


def quantization_applied(model: Any) -> dict[str, Any]:
    """The quantization as the loaded model's own `config.quantization_config` states it, plus what its layers hold.

    `summary` is one line for the hyperparameter table, e.g. "nf4 + double quant (bitsandbytes 4-bit), compute float16".
    """
    config = getattr(model.config, "quantization_config", None)
    if config is not None and not isinstance(config, Mapping):
        config = config.to_dict()
    held_4bit = {}  # module -> its own 4-bit weight (a LoRA wrapper only points at its base layer's)
    for module in model.modules():
        weight = dict(module.named_parameters(recurse=False)).get("weight")
        if getattr(weight, "quant_state", None) is not None:
            held_4bit[module] = weight
    held = {
        "layers_4bit": len(held_4bit),
        "layer_quant_types": sorted({w.quant_state.quant_type for w in held_4bit.values()}),
        "layer_compute_dtypes": sorted({_dtype_name(getattr(m, "compute_dtype", None)) or "unset" for m in held_4bit}),
    }
    if not config:
        return {"method": "none", **held, "summary": "none (full-precision weights)"}
    method = str(getattr(config.get("quant_method"), "value", config.get("quant_method")))
    if not config.get("load_in_4bit"):
        bits = 8 if config.get("load_in_8bit") else None
        return {"method": method, "bits": bits, **held, "summary": f"{method} {bits or '?'}-bit"}
    record = {
        "method": method,
        "bits": 4,
        "quant_type": config.get("bnb_4bit_quant_type"),
        "double_quant": bool(config.get("bnb_4bit_use_double_quant")),
        "compute_dtype": _dtype_name(config.get("bnb_4bit_compute_dtype")),
        "skip_modules": config.get("llm_int8_skip_modules"),
        **held,
    }
    summary = f"{record['quant_type']}{' + double quant' if record['double_quant'] else ''} ({method} 4-bit)"
    summary += f", compute {record['compute_dtype']}"
    if record["skip_modules"]:
        summary += f", kept unquantized: {', '.join(record['skip_modules'])}"
    return {**record, "summary": summary}


def loaded_model(model: Any) -> dict[str, Any]:
    """The checkpoint that actually loaded (its config's name or path and Hub commit) and its quantization."""
    config = model.config
    name = config._name_or_path or None
    if name and Path(name).is_absolute():  # a local checkpoint: its folder's name, never this machine's path
        name = f"local:{Path(name).name}"
    return {
        "id": name,
        "revision": getattr(config, "_commit_hash", None),
        "quantization": quantization_applied(model),
    }


def lora_applied(model: Any) -> dict[str, Any]:
    """The active LoRA adapter's settings, read back from the trained model's PEFT config."""
    configs = getattr(model, "peft_config", None)
    if not configs:
        raise ValueError("The model carries no LoRA adapter (no peft_config): pass the trained model, trainer.model.")
    adapter = model.active_adapter if isinstance(model.active_adapter, str) else model.active_adapter[0]
    config = configs[adapter]
    modules = config.target_modules
    return {
        "lora_r": config.r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": modules if isinstance(modules, str) else sorted(modules),
    }


def manifest_fields(model: Any, settings: Mapping[str, Any], requested_id: str, library: str) -> dict[str, Any]:
    """The manifest's `model` and `hyperparameters`: the settings, overridden by what the trained model shows."""
    loaded = loaded_model(model)
    return {
        "model": {**loaded, "requested_id": requested_id, "library": library},
        "hyperparameters": {
            **settings,
            "model_id": loaded["id"],
            **lora_applied(model),
            "quantization": loaded["quantization"]["summary"],
        },
    }
