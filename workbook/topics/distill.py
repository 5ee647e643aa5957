"""Knowledge distillation: temperature-softened distributions, the T²-scaled loss, and a layer-dropped student.

The temperature widget's logic lives here (`TemperatureExplorer`); `workbook.ui.temperature` is its view.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any


def _check_temperature(temperature: float) -> float:
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not math.isfinite(temperature):
        raise ValueError(f"The temperature must be a finite number, got {temperature!r}.")
    if temperature <= 0:
        raise ValueError(
            f"The temperature must be > 0, got {temperature}. T divides the logits: T = 1 is the plain softmax, "
            "T > 1 flattens it, and T -> 0 tends to the arg-max (one-hot). Pick a value such as 0.5, 1, 2 or 4."
        )
    return float(temperature)


def soften(logits: Sequence[float], temperature: float) -> list[float]:
    """softmax(z / T) in plain Python, computed stably (the max logit is subtracted first)."""
    temperature = _check_temperature(temperature)
    if len(logits) == 0:
        raise ValueError("No logits given: pass at least one number.")
    scaled = [z / temperature for z in logits]
    top = max(scaled)
    exps = [math.exp(z - top) for z in scaled]
    total = sum(exps)
    return [e / total for e in exps]


def entropy_bits(probs: Sequence[float]) -> float:
    """Shannon entropy in bits: 0 for one-hot, log2(n) for uniform."""
    return -sum(p * math.log2(p) for p in probs if p > 0)


def distillation_loss(
    student_logits: Any,
    teacher_logits: Any,
    labels: Any = None,
    temperature: float = 2.0,
    lam: float = 0.5,
    scale_by_t2: bool = True,
) -> Any:
    """(1 - lam) * CE(labels, student) + lam * T² * KL(teacher_T || student_T), averaged over positions.

    Logits are (..., vocab), of any float dtype (the loss is computed in fp32). labels (same leading shape,
    -100 = ignore) may be None, which means lam = 1 (soft targets only). scale_by_t2=False drops the T² factor,
    to show what it is for.
    """
    import torch.nn.functional as F

    temperature = _check_temperature(temperature)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam weighs the soft loss against the hard one and must lie in [0, 1], got {lam}.")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"Student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ: "
            "distillation compares the two distributions position by position, over the same vocabulary."
        )
    vocab = student_logits.shape[-1]
    student = student_logits.reshape(-1, vocab).float()
    teacher = teacher_logits.reshape(-1, vocab).detach().float()
    keep = None
    if labels is not None:
        keep = labels.reshape(-1) != -100
        student, teacher = student[keep], teacher[keep]
    soft = F.kl_div(
        F.log_softmax(student / temperature, dim=-1),
        F.log_softmax(teacher / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    if scale_by_t2:
        soft = soft * temperature**2
    if labels is None:
        return soft
    hard = F.cross_entropy(student, labels.reshape(-1)[keep])
    return (1 - lam) * hard + lam * soft


def soft_gradient_norms(
    temperatures: Sequence[float], vocab: int = 1000, positions: int = 64, seed: int = 0
) -> list[dict[str, float]]:
    """Gradient norm of the soft loss w.r.t. the student logits, with and without T², at each temperature.

    Random logits with a spread like an LM's (std 3) stand in for a teacher and a student that disagree.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    teacher = torch.randn(positions, vocab, generator=generator) * 3
    start = torch.randn(positions, vocab, generator=generator) * 3
    rows = []
    for temperature in temperatures:
        row: dict[str, float] = {"T": float(_check_temperature(temperature))}
        for scaled in (False, True):
            student = start.clone().requires_grad_(True)
            distillation_loss(student, teacher, temperature=temperature, scale_by_t2=scaled).backward()
            row["grad_norm_with_T2" if scaled else "grad_norm_without_T2"] = student.grad.norm().item()
        rows.append(row)
    return rows


def drop_layers(model: Any, keep: Sequence[int]) -> Any:
    """A deep copy of a decoder-only model that keeps only the decoder layers listed in `keep` (in order)."""
    import torch

    layers = model.model.layers
    count = len(layers)
    keep = list(keep)
    if not keep or any(not 0 <= i < count for i in keep) or len(set(keep)) != len(keep):
        raise ValueError(f"keep must list distinct layer indices in 0..{count - 1}, got {keep}.")
    student = copy.deepcopy(model)
    student.model.layers = torch.nn.ModuleList([student.model.layers[i] for i in keep])
    for new_index, layer in enumerate(student.model.layers):
        layer.self_attn.layer_idx = new_index  # the KV cache is indexed by position in the stack
    student.config.num_hidden_layers = len(keep)
    if getattr(student.config, "layer_types", None):
        student.config.layer_types = [student.config.layer_types[i] for i in keep]
    return student


def _logits(model: Any, batch: dict[str, Any]) -> Any:
    """The model's logits for a tokenizer batch, computed on the model's device, in fp32 on the batch's device."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
    return logits.float().to(ids.device)


def mean_kl(student: Any, teacher: Any, batches: Sequence[dict[str, Any]], temperature: float = 1.0) -> float:
    """Mean per-token KL(teacher || student) at temperature T over real (non-padding) tokens."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            mask = batch["attention_mask"].reshape(-1).bool()
            s, t = _logits(student, batch), _logits(teacher, batch)
            s = F.log_softmax(s.reshape(-1, s.shape[-1])[mask] / temperature, dim=-1)
            t = F.log_softmax(t.reshape(-1, t.shape[-1])[mask] / temperature, dim=-1)
            total += F.kl_div(s, t, reduction="sum", log_target=True).item()
            count += int(mask.sum())
    return total / count


def distill_steps(
    student: Any, teacher: Any, batches: Sequence[dict[str, Any]], steps: int, temperature: float = 2.0,
    lam: float = 0.5, lr: float = 1e-4,
) -> list[float]:  # fmt: skip
    """Train `student` in place: `steps` AdamW steps of `distillation_loss` against the frozen teacher on the
    next-token positions of `batches` (tokenizer outputs, padding masked, used in turn). Returns the loss per step.

    Only the parameters with requires_grad train. The student is cast to fp32 first, whatever the teacher's dtype:
    in fp16 (a T4), Adam's second moment underflows and its eps (1e-8) rounds to 0, so one step gives NaN weights.
    """
    import torch

    if steps < 1 or not batches:
        raise ValueError(f"Need at least one step and one batch; got steps={steps} and {len(batches)} batches.")
    student.float().train()
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr)
    losses = []
    for step in range(steps):
        batch = {key: value.to(student.device) for key, value in batches[step % len(batches)].items()}
        with torch.no_grad():
            teacher_logits = _logits(teacher, batch)
        student_logits = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        # position t predicts token t + 1: shift logits and labels by one
        loss = distillation_loss(student_logits[:, :-1], teacher_logits[:, :-1], labels[:, 1:], temperature, lam)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    student.eval()
    return losses


class TemperatureExplorer:
    """A temperature slider over a teacher's logits: bars of softmax(z / T) and the entropy.

    Plain API (what tests and headless runs use): `probs(T)`, `describe(T)`, `plot(T, ax)`.
    `workbook.ui.temperature.temperature_widget` builds the ipywidgets view.
    """

    def __init__(self, logits: Sequence[float], labels: Sequence[str]):
        if len(logits) != len(labels) or not logits:
            raise ValueError(f"Give one label per logit: {len(logits)} logits, {len(labels)} labels.")
        self.logits = [float(z) for z in logits]
        self.labels = list(labels)

    def probs(self, temperature: float) -> list[float]:
        return soften(self.logits, temperature)

    def describe(self, temperature: float) -> str:
        probs = self.probs(temperature)
        parts = ", ".join(f"{label} {p:.3f}" for label, p in zip(self.labels, probs, strict=True))
        return f"T = {temperature:g}: {parts}  (entropy {entropy_bits(probs):.2f} bits)"

    def plot(self, temperature: float, ax: Any = None) -> Any:
        import matplotlib.pyplot as plt

        probs = self.probs(temperature)
        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 2.8))
        bars = ax.bar(self.labels, probs, color="#6366f1")
        for bar, p in zip(bars, probs, strict=True):
            ax.text(bar.get_x() + bar.get_width() / 2, p + 0.01, f"{p:.2f}", ha="center", fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("probability")
        ax.set_title(f"softmax(z / T), T = {temperature:g}")
        return ax
