"""Transfer learning by feature extraction: frozen hidden states of a causal LM plus a trained linear head."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
        mask = batch["attention_mask"].unsqueeze(-1)
        for layer in layers:
            chosen = states[layer]
            weights = mask.to(chosen.dtype)
            chunks[layer].append(((chosen * weights).sum(1) / weights.sum(1)).float().cpu())
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
    target = torch.tensor([classes.index(y) for y in labels])
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std
    torch.manual_seed(0)
    weight = torch.zeros(len(classes), x.shape[1], requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, target) + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return LinearProbe(weight.detach(), bias.detach(), mean, std, classes)
