"""Measurements on a causal language model: next-token loss, perplexity, and trainer loss histories."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def mean_token_nll(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int = 256) -> float:
    """Average next-token negative log-likelihood (nats per predicted token) over `texts`."""
    import torch

    if not texts:
        raise ValueError("No texts to score: pass at least one string.")
    total, count = 0.0, 0
    model.eval()
    for text in texts:
        ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_length)["input_ids"].to(model.device)
        if ids.shape[1] < 2:
            continue
        with torch.no_grad():
            loss = model(input_ids=ids, labels=ids).loss  # mean over the ids.shape[1] - 1 predictions
        total += loss.item() * (ids.shape[1] - 1)
        count += ids.shape[1] - 1
    if count == 0:
        raise ValueError("Every text is shorter than two tokens: nothing to predict.")
    return total / count


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], max_length: int = 256) -> float:
    """exp(mean next-token NLL): how many tokens the model is 'choosing between' on average."""
    return math.exp(mean_token_nll(model, tokenizer, texts, max_length))


def loss_history(
    log_history: Sequence[dict[str, Any]], keys: Sequence[str] = ("loss", "eval_loss")
) -> dict[str, list[tuple[int, float]]]:
    """(step, value) pairs per metric in `keys` from `trainer.state.log_history` (default: train and eval loss)."""
    series: dict[str, list[tuple[int, float]]] = {key: [] for key in keys}
    for entry in log_history:
        for key in series:
            if key in entry and "step" in entry:
                series[key].append((int(entry["step"]), float(entry[key])))
    return series


def plot_loss(log_history: Sequence[dict[str, Any]], title: str = "Training loss", ax: Any = None) -> Any:
    """Plot train and eval loss per step from a trainer's own log; returns the matplotlib Axes."""
    import matplotlib.pyplot as plt

    series = loss_history(log_history)
    if not series["loss"] and not series["eval_loss"]:
        raise ValueError("The log has no loss entries: set logging_steps so the trainer logs during training.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for key, label, style in (("loss", "train", "o-"), ("eval_loss", "eval", "s--")):
        if series[key]:
            steps, values = zip(*series[key], strict=True)
            ax.plot(steps, values, style, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title)
    ax.legend()
    return ax
