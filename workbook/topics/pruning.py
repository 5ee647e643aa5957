"""Pruning real layers: unstructured magnitude, 2:4 semi-structured, and structured (whole MLP neurons).

Every function works on torch modules in place or returns a new one, and reports what it did, so the
notebook can measure sparsity, size, perplexity and latency on the same layers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any


def _check_amount(amount: float) -> float:
    if not isinstance(amount, (int, float)) or not 0.0 <= amount < 1.0:
        raise ValueError(f"amount is the share of weights to remove and must lie in [0, 1), got {amount!r}.")
    return float(amount)


def sparsity(tensors: Iterable[Any]) -> float:
    """Share of exactly-zero entries over all the given tensors."""
    zeros = total = 0
    for tensor in tensors:
        zeros += int((tensor == 0).sum())
        total += tensor.numel()
    if total == 0:
        raise ValueError("No weights given: pass at least one non-empty tensor.")
    return zeros / total


def magnitude_prune_(linear: Any, amount: float) -> None:
    """Zero the `amount` share of a Linear's weights with the smallest |w| (torch.nn.utils.prune), made permanent."""
    import torch.nn.utils.prune as prune

    prune.l1_unstructured(linear, name="weight", amount=_check_amount(amount))
    prune.remove(linear, "weight")  # fold the mask into the weight: no extra parameters remain


def semi_structured_mask(weight: Any, n: int = 2, m: int = 4) -> Any:
    """Boolean mask keeping the n largest |w| in every group of m consecutive weights along the input dimension."""
    import torch

    if not 0 < n < m:
        raise ValueError(f"N:M sparsity needs 0 < N < M, got {n}:{m}.")
    rows, cols = weight.shape
    if cols % m:
        raise ValueError(f"The input dimension {cols} is not a multiple of M = {m}: N:M groups would not tile it.")
    groups = weight.detach().abs().reshape(rows, cols // m, m)
    top = groups.topk(n, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True)
    return mask.reshape(rows, cols)


def semi_structured_prune_(linear: Any, n: int = 2, m: int = 4) -> None:
    """Apply N:M (default 2:4) sparsity to a Linear's weight in place."""
    import torch

    with torch.no_grad():
        linear.weight.mul_(semi_structured_mask(linear.weight, n, m))


def prune_mlp_neurons(mlp: Any, amount: float) -> dict[str, int]:
    """Structured pruning of a gated (Llama-style) MLP: remove whole intermediate neurons, in place.

    A neuron j is row j of gate_proj and up_proj and column j of down_proj; its importance is the product of
    those three L2 norms. The layers are replaced by smaller dense Linear layers. Returns before/after widths.
    """
    import torch

    amount = _check_amount(amount)
    gate, up, down = mlp.gate_proj, mlp.up_proj, mlp.down_proj
    width = gate.out_features
    keep_count = max(1, round(width * (1 - amount)))
    score = gate.weight.norm(dim=1) * up.weight.norm(dim=1) * down.weight.norm(dim=0)
    keep = score.topk(keep_count).indices.sort().values

    def smaller(old: Any, rows: Any = None, cols: Any = None) -> Any:
        weight = old.weight.detach()
        weight = weight[rows] if rows is not None else weight[:, cols]
        new = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False, device=weight.device, dtype=weight.dtype)
        new.weight.data.copy_(weight)
        return new

    mlp.gate_proj, mlp.up_proj = smaller(gate, rows=keep), smaller(up, rows=keep)
    mlp.down_proj = smaller(down, cols=keep)
    if hasattr(mlp, "intermediate_size"):
        mlp.intermediate_size = keep_count
    return {"width_before": width, "width_after": keep_count}


def storage_bytes(tensor: Any, bytes_per_value: int = 2, index_bytes: int = 4) -> dict[str, int]:
    """Bytes to store a 2-D weight densely, as CSR (values + column indices + row pointers), and as 2:4.

    2:4 storage follows the sparse-tensor-core layout: half the values plus 2 bits of position per kept value.
    """
    rows, cols = tensor.shape
    nnz = int((tensor != 0).sum())
    dense = tensor.numel() * bytes_per_value
    csr = nnz * (bytes_per_value + index_bytes) + (rows + 1) * index_bytes
    two_four = tensor.numel() // 2 * bytes_per_value + tensor.numel() // 2 * 2 // 8
    return {"dense": dense, "csr": csr, "2:4": two_four, "nnz": nnz}


def median_seconds(fn: Callable[[], Any], repeats: int = 7, warmup: int = 2) -> float:
    """Median wall time of fn() over `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def magnitude_masks(tensors: dict[str, Any], amount: float) -> dict[str, Any]:
    """Per tensor, a boolean mask keeping the (1 - amount) share of entries with the largest |value|.

    The lottery-ticket recipe (Frankle & Carbin, 2019) takes these masks from *trained* weights.
    """
    import torch

    amount = _check_amount(amount)
    masks = {}
    for name, tensor in tensors.items():
        keep = max(1, round(tensor.numel() * (1 - amount)))
        threshold = tensor.detach().abs().flatten().float().kthvalue(tensor.numel() - keep + 1).values
        mask = tensor.detach().abs() >= threshold
        if int(mask.sum()) > keep:  # ties at the threshold: keep exactly `keep`, the first ones
            flat = torch.zeros(tensor.numel(), dtype=torch.bool, device=tensor.device)
            flat[tensor.detach().abs().flatten().float().topk(keep).indices] = True
            mask = flat.reshape(tensor.shape)
        masks[name] = mask
    return masks


def random_masks(tensors: dict[str, Any], amount: float, seed: int = 0) -> dict[str, Any]:
    """Per tensor, a random boolean mask with the same number of kept entries as `magnitude_masks` keeps."""
    import torch

    amount = _check_amount(amount)
    generator = torch.Generator().manual_seed(seed)
    masks = {}
    for name, tensor in tensors.items():
        keep = max(1, round(tensor.numel() * (1 - amount)))
        flat = torch.zeros(tensor.numel(), dtype=torch.bool)
        flat[torch.randperm(tensor.numel(), generator=generator)[:keep]] = True
        masks[name] = flat.reshape(tensor.shape).to(tensor.device)
    return masks


def set_masked_(params: dict[str, Any], values: dict[str, Any], masks: dict[str, Any] | None = None) -> None:
    """Copy `values` into the parameters in place, zeroing what `masks` removes (a rewind, optionally pruned)."""
    import torch

    with torch.no_grad():
        for name, param in params.items():
            value = values[name].to(param.device, param.dtype)
            param.copy_(value * masks[name] if masks is not None else value)


def train_masked(
    loss_fn: Callable[[], Any], params: dict[str, Any], steps: int, lr: float, masks: dict[str, Any] | None = None
) -> list[float]:
    """`steps` AdamW steps on `params` minimising loss_fn(); masked-out entries get no gradient and stay at zero.

    Returns the loss per step. With masks, start from weights already zeroed where the mask is False
    (`set_masked_`): AdamW with no weight decay then never moves them.
    """
    import torch

    if steps < 1:
        raise ValueError(f"Need at least one step; got {steps}.")
    optimizer = torch.optim.AdamW(list(params.values()), lr=lr, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        loss.backward()
        if masks is not None:
            for name, param in params.items():
                param.grad.mul_(masks[name])
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses
