"""Model merging by weight arithmetic: task vectors, soups, SLERP, TIES and DARE, plus the same-base check.

The functions take dicts of name -> tensor (or plain floats, for the worked one-weight example), so the same
code runs on a single number and on a real model's state dict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DifferentBaseError(ValueError):
    """Adapters or checkpoints that do not share a base model cannot be merged by weight arithmetic."""


def task_vector(finetuned: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """tau = theta_finetuned - theta_base, entry by entry (the keys must match)."""
    if set(finetuned) != set(base):
        missing = sorted(set(base) ^ set(finetuned))[:5]
        raise DifferentBaseError(
            f"The two weight sets do not have the same parameters (first differences: {missing}). A task vector "
            "only makes sense between a fine-tune and the exact base it started from."
        )
    return {key: finetuned[key] - base[key] for key in base}


def add_task_vectors(
    base: Mapping[str, Any], vectors: Sequence[Mapping[str, Any]], weights: Sequence[float]
) -> dict[str, Any]:
    """theta_base + sum_i weight_i * tau_i. A soup of n models is weights = [1/n] * n."""
    if len(vectors) != len(weights) or not vectors:
        raise ValueError(f"Give one weight per task vector: {len(vectors)} vectors, {len(weights)} weights.")
    merged = dict(base)
    for vector, weight in zip(vectors, weights, strict=True):
        for key in merged:
            merged[key] = merged[key] + weight * vector[key]
    return merged


def ties_values(values: Sequence[float], density: float = 1.0) -> dict[str, Any]:
    """TIES on one parameter's task-vector entries: trim, elect a sign, average the entries that agree.

    `density` is the share of entries kept by magnitude in the trim step (1.0 keeps them all; in a real model
    the trim is done per tensor, here over the list). Returns each step so the worked example can print them.
    """
    if not values:
        raise ValueError("No task-vector entries given.")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must lie in (0, 1], got {density}.")
    keep_count = max(1, round(len(values) * density))
    threshold = sorted((abs(v) for v in values), reverse=True)[keep_count - 1]
    trimmed = [v if abs(v) >= threshold else 0.0 for v in values]
    total = sum(trimmed)
    sign = 1.0 if total >= 0 else -1.0
    agreeing = [v for v in trimmed if v != 0 and (v > 0) == (sign > 0)]
    merged = sum(agreeing) / len(agreeing) if agreeing else 0.0
    return {"trimmed": trimmed, "elected_sign": sign, "agreeing": agreeing, "merged_delta": merged}


def dare(vector: Any, drop_rate: float, seed: int = 0) -> Any:
    """DARE on a tensor: drop each entry with probability p and rescale the survivors by 1 / (1 - p)."""
    import torch

    if not 0.0 <= drop_rate < 1.0:
        raise ValueError(f"drop_rate must lie in [0, 1), got {drop_rate}.")
    generator = torch.Generator().manual_seed(seed)
    keep = torch.rand(vector.shape, generator=generator).to(vector.device) >= drop_rate  # the same draw on any device
    return vector * keep / (1 - drop_rate)


def slerp_coefficients(a: Any, b: Any, t: float, eps: float = 1e-6) -> tuple[float, float]:
    """The weights (c_a, c_b) with slerp(a, b, t) = c_a * a + c_b * b, from the angle between the two tensors.

    c_a = sin((1 - t) * omega) / sin(omega), c_b = sin(t * omega) / sin(omega), where omega is the angle between a
    and b (each flattened). When they are (anti)parallel within eps the arc is undefined and plain linear
    interpolation (1 - t, t) is used, as mergekit does.
    """
    import math

    import torch

    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must lie in [0, 1] (0 gives a, 1 gives b), got {t}.")
    a, b = torch.as_tensor(a).flatten().double(), torch.as_tensor(b).flatten().double()
    if a.shape != b.shape:
        raise ValueError(f"SLERP needs two tensors of one shape; got {a.numel()} and {b.numel()} entries.")
    norms = a.norm() * b.norm()
    if norms == 0:
        raise ValueError("SLERP needs two non-zero tensors: the angle to a zero vector is undefined.")
    cos = float((a @ b) / norms)
    if abs(cos) > 1 - eps:
        return 1.0 - t, t
    omega = math.acos(max(-1.0, min(1.0, cos)))
    return math.sin((1 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)


def slerp(a: Any, b: Any, t: float, eps: float = 1e-6) -> Any:
    """Spherical linear interpolation between two tensors: along the arc between them, not the straight chord.

    For two unit vectors every point stays on the unit sphere; t = 0 returns a and t = 1 returns b.
    """
    c_a, c_b = slerp_coefficients(a, b, t, eps)
    return c_a * a + c_b * b


def check_same_base(configs: Mapping[str, Any]) -> str:
    """Raise DifferentBaseError unless every adapter config names the same base model; return that base.

    configs: adapter name -> PEFT config (anything with `base_model_name_or_path`), e.g. `peft_model.peft_config`.
    """
    if not configs:
        raise ValueError("No adapters given.")
    bases = {name: getattr(config, "base_model_name_or_path", None) for name, config in configs.items()}
    unknown = [name for name, base in bases.items() if not base]
    if unknown:
        raise DifferentBaseError(
            f"Adapter(s) {unknown} do not record their base model (base_model_name_or_path is empty), so a merge "
            "cannot be checked. Set it when you create the LoraConfig or re-save the adapter from its base."
        )
    distinct = sorted(set(bases.values()))
    if len(distinct) > 1:
        listing = "; ".join(f"{name}: {base}" for name, base in bases.items())
        raise DifferentBaseError(
            f"These adapters were trained on different base models ({listing}). Merging adds weight deltas that "
            "only mean something relative to the base they were trained from: retrain one adapter on the other's "
            "base, or merge only adapters of one base."
        )
    return distinct[0]
