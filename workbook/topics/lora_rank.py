"""The LoRA rank explorer: how well a rank-r product B·A can stand in for a real weight update ΔW.

`full_weight_delta` produces a real ΔW by fully fine-tuning one layer; `RankExplorer(delta)` takes its SVD once;
`report(r)` gives the numbers for one rank and `plot(r)` draws them. `workbook.ui.rank_slider` wraps both in a
core-ipywidgets view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


def lora_params(d: int, k: int, r: int) -> int:
    """Trainable numbers of a rank-r LoRA pair on a d×k weight: B is d×r, A is r×k."""
    check_rank(r, d, k)
    return r * (d + k)


def check_rank(r: Any, d: int, k: int) -> int:
    """Return r when 1 <= r <= min(d, k); otherwise raise a ValueError that says what to pick."""
    if isinstance(r, bool) or not isinstance(r, int):
        raise ValueError(f"The rank r must be a whole number, got {r!r}.")
    if r <= 0:
        raise ValueError(f"The rank r must be at least 1, got {r}: a rank-0 update changes nothing.")
    if r > min(d, k):
        raise ValueError(
            f"r={r} is larger than min(d, k)={min(d, k)} for a {d}x{k} matrix: no matrix of that shape has a rank "
            f"above {min(d, k)}. Pick r between 1 and {min(d, k)}."
        )
    return r


def full_weight_delta(
    model: Any, tokenizer: Any, layer: Any, texts: Sequence[str], steps: int, lr: float = 1e-4, batch_size: int = 4,
    max_length: int = 128,
) -> tuple[torch.Tensor, list[float]]:  # fmt: skip
    """ΔW of one Linear `layer` after `steps` of AdamW on all of its weights (next-token loss on `texts`, padding
    masked), and the loss per step. Nothing else trains; the model comes back unchanged, in eval mode.

    The trained tensor is ΔW itself, an fp32 matrix whose product with the layer's input is added to the frozen
    layer's output: (W + ΔW)x = Wx + ΔWx, and ΔW's gradient is W's, so this is full fine-tuning of W. Training W in
    place breaks in fp16 (a T4): Adam's second moment underflows and its eps (1e-8) rounds to 0, so one step
    turns most of W into NaN.
    """
    if steps < 1 or not texts:
        raise ValueError(f"Need at least one step and one text; got steps={steps} and {len(texts)} texts.")
    delta = torch.zeros(layer.weight.shape, dtype=torch.float32, device=layer.weight.device, requires_grad=True)
    hook = layer.register_forward_hook(lambda _, args, out: out + (args[0].float() @ delta.T).to(out.dtype))
    frozen = [p for p in model.parameters() if p.requires_grad]
    for parameter in frozen:
        parameter.requires_grad_(False)
    optimizer = torch.optim.AdamW([delta], lr=lr, weight_decay=0.0)
    losses = []
    model.train()
    try:
        for step in range(steps):
            batch = [texts[(batch_size * step + i) % len(texts)] for i in range(batch_size)]
            encoded = tokenizer(
                batch, return_tensors="pt", padding=True, truncation=True, max_length=max_length
            ).to(model.device)
            labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)
            loss = model(**encoded, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
    finally:
        hook.remove()
        for parameter in frozen:
            parameter.requires_grad_(True)
        model.eval()
    return delta.detach().cpu(), losses


@dataclass(frozen=True)
class RankReport:
    """What a rank-r approximation of ΔW keeps and costs."""

    r: int
    d: int
    k: int
    energy_captured: float  # share of ||ΔW||_F^2 in the top r singular values
    relative_error: float  # ||ΔW - ΔW_r||_F / ||ΔW||_F
    lora_params: int  # r(d + k)
    full_params: int  # d·k

    @property
    def saving(self) -> float:
        """How many times fewer numbers the LoRA pair trains than the full matrix."""
        return self.full_params / self.lora_params

    @property
    def cost(self) -> str:
        """The saving in words: "256.0x fewer", or "2.0x more" once r(d + k) exceeds d·k (r > dk / (d + k))."""
        if self.saving >= 1:
            return f"{self.saving:.1f}x fewer"
        return f"{1 / self.saving:.1f}x more"

    def text(self) -> str:
        return (
            f"r={self.r}: energy captured {self.energy_captured:.1%}, relative error {self.relative_error:.3f}, "
            f"LoRA {self.lora_params:,} vs full {self.full_params:,} numbers ({self.cost})"
        )


class RankExplorer:
    """The SVD of one real ΔW, and its rank-r approximations."""

    def __init__(self, delta: torch.Tensor, name: str = "ΔW") -> None:
        if delta.ndim != 2:
            raise ValueError(f"ΔW must be a 2-D matrix, got shape {tuple(delta.shape)}.")
        delta = delta.detach().float().cpu()
        if not torch.isfinite(delta).all():
            raise ValueError("ΔW contains NaN or inf: check the fine-tune that produced it.")
        if float(delta.abs().max()) == 0.0:
            raise ValueError("ΔW is all zeros: the layer did not change (was it trained?).")
        self.delta, self.name = delta, name
        self.d, self.k = delta.shape
        self.u, self.s, self.vh = torch.linalg.svd(delta, full_matrices=False)
        energy = self.s.double() ** 2
        self.cumulative_energy = (energy.cumsum(0) / energy.sum()).float()

    def approximation(self, r: int) -> torch.Tensor:
        """The best rank-r approximation of ΔW (Eckart-Young): top r singular triplets."""
        check_rank(r, self.d, self.k)
        return (self.u[:, :r] * self.s[:r]) @ self.vh[:r]

    def report(self, r: int) -> RankReport:
        check_rank(r, self.d, self.k)
        captured = float(self.cumulative_energy[r - 1])
        return RankReport(
            r=r,
            d=self.d,
            k=self.k,
            energy_captured=captured,
            relative_error=max(0.0, 1.0 - captured) ** 0.5,
            lora_params=lora_params(self.d, self.k, r),
            full_params=self.d * self.k,
        )

    def rank_for_energy(self, share: float) -> int:
        """The smallest r whose approximation keeps at least `share` of ΔW's energy."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share}.")
        return int((self.cumulative_energy < share - 1e-7).sum().item()) + 1

    def plot(self, r: int, crop: int = 96) -> Any:
        """ΔW and its rank-r approximation as heatmaps (top-left crop×crop corner), and the spectrum with r marked."""
        import matplotlib.pyplot as plt

        report = self.report(r)
        approx = self.approximation(r)
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        limit = float(self.delta[:crop, :crop].abs().max())
        for ax, matrix, title in (
            (axes[0], self.delta, f"{self.name} ({self.d}x{self.k}), corner"),
            (axes[1], approx, f"rank-{r} approximation, same corner"),
        ):
            image = ax.imshow(matrix[:crop, :crop].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(title, fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(image, ax=axes[:2], shrink=0.8)
        ranks = torch.arange(1, len(self.s) + 1)
        axes[2].semilogy(ranks, self.s.numpy(), lw=1, label="singular value")
        axes[2].axvline(r, color="red", ls="--", label=f"r = {r}")
        twin = axes[2].twinx()
        twin.plot(ranks, self.cumulative_energy.numpy(), color="gray", lw=1)
        twin.set_ylim(0, 1.02)
        twin.set_ylabel("energy captured", color="gray")
        axes[2].set_xscale("log")
        axes[2].set_xlabel("rank")
        axes[2].set_title(f"{report.energy_captured:.1%} energy, rel. error {report.relative_error:.3f}", fontsize=10)
        axes[2].legend(loc="lower left", fontsize=8)
        return fig
