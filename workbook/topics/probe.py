"""Transfer learning two ways: frozen hidden states of a causal LM plus a trained linear head (the probe), and
fine-tuning a copy of the model together with such a head."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def _mean_pool(states: Any, attention_mask: Any) -> Any:
    """Each row's hidden states averaged over its real (non-padding) tokens, in fp32 (an fp16 sum can overflow)."""
    weights = attention_mask.unsqueeze(-1).float()
    return (states.float() * weights).sum(1) / weights.sum(1)


def hidden_features_by_layer(
    model: Any, tokenizer: Any, texts: Sequence[str], layers: Sequence[int] = (-1,), batch_size: int = 16
) -> dict[int, Any]:
    """Mean-pooled hidden states for several layers from one forward pass: {layer: (len(texts), hidden) tensor}."""
    import torch

    if not texts:
        raise ValueError("No texts to encode: pass at least one string.")
    n_layers = model.config.num_hidden_layers
    for layer in layers:
        if not -(n_layers + 1) <= layer <= n_layers:
            raise ValueError(f"layer must be in [-{n_layers + 1}, {n_layers}] (0 = embeddings), got {layer}.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    chunks: dict[int, list[Any]] = {layer: [] for layer in layers}
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start : start + batch_size]), return_tensors="pt", padding=True).to(model.device)
        with torch.no_grad():
            states = model(**batch, output_hidden_states=True).hidden_states
        for layer in layers:
            chunks[layer].append(_mean_pool(states[layer], batch["attention_mask"]).cpu())
    return {layer: torch.cat(parts) for layer, parts in chunks.items()}


def hidden_features(model: Any, tokenizer: Any, texts: Sequence[str], layer: int = -1, batch_size: int = 16) -> Any:
    """Mean-pooled hidden states of one `layer` for each text (no gradients): a (len(texts), hidden) tensor."""
    return hidden_features_by_layer(model, tokenizer, texts, (layer,), batch_size)[layer]


@dataclass
class LinearProbe:
    """A logistic-regression head on standardised features."""

    weight: Any
    bias: Any
    mean: Any
    std: Any
    classes: list[str]

    def logits(self, features: Any) -> Any:
        return ((features - self.mean) / self.std) @ self.weight.T + self.bias

    def predict(self, features: Any) -> list[str]:
        return [self.classes[i] for i in self.logits(features).argmax(-1).tolist()]

    def accuracy(self, features: Any, labels: Sequence[str]) -> float:
        if len(labels) != features.shape[0]:
            raise ValueError(f"{features.shape[0]} feature rows but {len(labels)} labels.")
        return sum(p == y for p, y in zip(self.predict(features), labels, strict=True)) / len(labels)


def train_probe(features: Any, labels: Sequence[str], steps: int = 200, weight_decay: float = 1e-2) -> LinearProbe:
    """Fit a multinomial logistic regression (full-batch L-BFGS) on frozen features. Only the head learns."""
    import torch

    if features.ndim != 2 or features.shape[0] != len(labels):
        raise ValueError(f"Need a (n, d) feature matrix with one label per row; got {tuple(features.shape)} "
                         f"and {len(labels)} labels.")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"A classifier needs at least two classes; the labels only contain {classes}.")
    target = torch.tensor([classes.index(y) for y in labels], device=features.device)
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std
    torch.manual_seed(0)
    weight = torch.zeros(len(classes), x.shape[1], device=x.device, requires_grad=True)
    bias = torch.zeros(len(classes), device=x.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, target) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return LinearProbe(weight.detach(), bias.detach(), mean, std, classes)


@dataclass
class FineTuned:
    """A fine-tuned copy of a model and the linear head on its mean-pooled last hidden state."""

    backbone: Any
    head: Any
    tokenizer: Any
    classes: list[str]
    losses: list[float] = field(default_factory=list)

    def logits(self, texts: Sequence[str]) -> Any:
        batch = self.tokenizer(list(texts), return_tensors="pt", padding=True).to(self.backbone.device)
        states = self.backbone(**batch, output_hidden_states=True).hidden_states[-1]
        return self.head(_mean_pool(states, batch["attention_mask"]))

    def accuracy(self, texts: Sequence[str], labels: Sequence[str]) -> float:
        import torch

        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels.")
        with torch.no_grad():
            predicted = self.logits(texts).argmax(-1).tolist()
        return sum(self.classes[p] == y for p, y in zip(predicted, labels, strict=True)) / len(labels)

    @property
    def trainable(self) -> int:
        """How many numbers the fine-tune trained: every weight of the copy, and the head."""
        return sum(p.numel() for p in [*self.backbone.parameters(), *self.head.parameters()])


def fine_tune(
    model: Any, tokenizer: Any, texts: Sequence[str], labels: Sequence[str], steps: int, batch_size: int = 8,
    lr: float = 5e-5, seed: int = 0,
) -> FineTuned:  # fmt: skip
    """Fine-tune a copy of `model` and a new linear head on random batches of (text, label): plain PyTorch, AdamW
    on every weight. The model itself is untouched; the copy comes back in eval mode.

    The copy and the head train in fp32 whatever the model's dtype: in fp16 (a T4), Adam's second moment
    underflows and its eps (1e-8) rounds to 0, so a single step turns the weights into NaN.
    """
    import torch

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels: pass one label per text.")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"A classifier needs at least two classes; the labels only contain {classes}.")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch.manual_seed(seed)
    backbone = copy.deepcopy(model).float().train().requires_grad_(True)
    head = torch.nn.Linear(model.config.hidden_size, len(classes), device=backbone.device)
    tuned = FineTuned(backbone, head, tokenizer, classes)
    optimizer = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(texts), (batch_size,), generator=generator).tolist()
        target = torch.tensor([classes.index(labels[i]) for i in idx], device=backbone.device)
        loss = torch.nn.functional.cross_entropy(tuned.logits([texts[i] for i in idx]), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        tuned.losses.append(loss.item())
    backbone.eval()
    return tuned
