"""Preference learning measured on a real model: response log-probabilities, distance from the reference,
a Bradley-Terry reward head on frozen features, and the DPO and KL-penalised RLHF objectives as formulas.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

from workbook.topics.lm import loss_history


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def bradley_terry_probability(reward_chosen: float, reward_rejected: float) -> float:
    """P(chosen beats rejected) = sigmoid(r_chosen - r_rejected)."""
    return _sigmoid(reward_chosen - reward_rejected)


def dpo_loss(
    policy_chosen: float, policy_rejected: float, reference_chosen: float, reference_rejected: float, beta: float
) -> float:
    """DPO loss for one pair from summed response log-probs: -log sigmoid(beta * (chosen ratio - rejected ratio))."""
    margin = (policy_chosen - reference_chosen) - (policy_rejected - reference_rejected)
    return -math.log(_sigmoid(beta * margin))


def kl_penalised_reward(reward: float, logp_policy: float, logp_reference: float, beta: float) -> float:
    """The per-sample RLHF objective PPO maximises: r(x, y) - beta * (log pi(y|x) - log pi_ref(y|x))."""
    return reward - beta * (logp_policy - logp_reference)


def _encode(tokenizer: Any, prompt: str, response: str) -> tuple[list[int], int]:
    """Token ids of chat prompt + response + end-of-turn, and where the response starts."""
    messages = [{"role": "user", "content": prompt}]
    prompt_text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(response + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    return prompt_ids + response_ids, len(prompt_ids)


def _reference(model: Any) -> Any:
    """A context in which a PEFT model computes as its base (adapter off); a no-op for a plain model."""
    return model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()


def _response_logits(model: Any, ids: list[int], start: int) -> tuple[Any, Any]:
    """Logits predicting each response token, and those tokens."""
    import torch

    tensor = torch.tensor([ids], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=tensor).logits[0, start - 1 : -1].float()
    return logits, tensor[0, start:]


def sequence_logprob(model: Any, ids: Sequence[int], start: int) -> float:
    """Summed log-probability of the tokens ids[start:] given the ones before them."""
    import torch

    logits, targets = _response_logits(model, list(ids), start)
    return torch.log_softmax(logits, -1).gather(1, targets[:, None]).sum().item()


def response_logprobs(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
    """Summed log-probability of each response (end-of-turn token included) given its chat prompt."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses: pass one response per prompt.")
    model.eval()
    return [sequence_logprob(model, *_encode(tokenizer, p, r)) for p, r in zip(prompts, responses, strict=True)]


def dpo_losses_on_tokens(model: Any, examples: Sequence[dict[str, Any]], beta: float) -> list[float]:
    """`dpo_loss` of each tokenized pair (`prompt_ids`, `chosen_ids`, `rejected_ids`, as DPOTrainer stores its
    dataset), with the PEFT model as the policy and the same model with its adapter off as the reference."""
    model.eval()
    losses = []
    for example in examples:
        start = len(example["prompt_ids"])
        chosen, rejected = (
            example["prompt_ids"] + example["chosen_ids"],
            example["prompt_ids"] + example["rejected_ids"],
        )
        policy = [sequence_logprob(model, chosen, start), sequence_logprob(model, rejected, start)]
        with _reference(model):
            reference = [sequence_logprob(model, chosen, start), sequence_logprob(model, rejected, start)]
        losses.append(dpo_loss(policy[0], policy[1], reference[0], reference[1], beta))
    return losses


def kto_rows(rows: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """KTO's unpaired format from preference rows: one row per answer, `label` True for chosen, False for rejected."""
    return [
        {"prompt": row["prompt"], "completion": row[key], "label": key == "chosen"}
        for row in rows
        for key in ("chosen", "rejected")
    ]


def drift(model: Any, tokenizer: Any, rows: Sequence[dict[str, str]], held_out: Sequence[dict[str, str]]) -> dict:
    """How far a PEFT policy moved from its reference (adapter off): the mean log-prob shift of the chosen and
    rejected answers of `rows`, the mean log-ratio gap (chosen shift - rejected shift), and the exact per-token
    KL(policy || reference) on the chosen answers of `held_out`."""
    prompts = [r["prompt"] for r in rows]
    pc, rc = policy_and_reference_logprobs(model, tokenizer, prompts, [r["chosen"] for r in rows])
    pr, rr = policy_and_reference_logprobs(model, tokenizer, prompts, [r["rejected"] for r in rows])
    chosen = [p - q for p, q in zip(pc, rc, strict=True)]
    rejected = [p - q for p, q in zip(pr, rr, strict=True)]
    return {
        "chosen shift": sum(chosen) / len(chosen),
        "rejected shift": sum(rejected) / len(rejected),
        "log-ratio gap": sum(c - r for c, r in zip(chosen, rejected, strict=True)) / len(chosen),
        "held-out KL/token": mean_token_kl(
            model, tokenizer, [r["prompt"] for r in held_out], [r["chosen"] for r in held_out]
        ),
    }


def policy_and_reference_logprobs(
    model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str]
) -> tuple[list[float], list[float]]:
    """Response log-probs under the PEFT policy (adapter on) and its reference (adapter off)."""
    policy = response_logprobs(model, tokenizer, prompts, responses)
    with _reference(model):
        reference = response_logprobs(model, tokenizer, prompts, responses)
    return policy, reference


def mean_token_kl(model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str]) -> float:
    """Exact KL(policy || reference) of the next-token distributions, averaged over the response tokens
    (teacher-forced on the given responses). Zero when the adapter changes nothing."""
    import torch

    model.eval()
    total, count = 0.0, 0
    for prompt, response in zip(prompts, responses, strict=True):
        ids, start = _encode(tokenizer, prompt, response)
        policy_logits, _ = _response_logits(model, ids, start)
        with _reference(model):
            reference_logits, _ = _response_logits(model, ids, start)
        log_p, log_q = torch.log_softmax(policy_logits, -1), torch.log_softmax(reference_logits, -1)
        total += (log_p.exp() * (log_p - log_q)).sum().item()
        count += policy_logits.shape[0]
    return total / count


def response_features(
    model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 8
) -> Any:
    """Frozen features for a reward head: the final hidden state averaged over the response tokens."""
    import torch

    model.eval()
    encoded = [_encode(tokenizer, p, r) for p, r in zip(prompts, responses, strict=True)]
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    features = []
    for first in range(0, len(encoded), batch_size):
        batch = encoded[first : first + batch_size]
        width = max(len(ids) for ids, _ in batch)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch], device=model.device)
        mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in batch], device=model.device)
        response_mask = torch.zeros_like(mask, dtype=torch.float32)
        for row, (item, start) in enumerate(batch):
            response_mask[row, start : len(item)] = 1.0
        with torch.no_grad(), _reference(model):
            hidden = base.model(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        pooled = (hidden * response_mask[..., None]).sum(1) / response_mask.sum(1, keepdim=True)
        features.append(pooled.cpu())
    return torch.cat(features)


def train_bradley_terry(
    chosen_features: Any, rejected_features: Any, steps: int = 300, lr: float = 0.01, weight_decay: float = 0.01
) -> tuple[Any, list[float]]:
    """Fit a linear reward r(x, y) = w . h(x, y) with the Bradley-Terry loss -log sigmoid(r_chosen - r_rejected).

    Returns the head (a torch Linear layer without bias) and the loss per step.
    """
    import torch

    if len(chosen_features) != len(rejected_features) or len(chosen_features) == 0:
        raise ValueError("Pass the same, non-zero number of chosen and rejected feature rows.")
    torch.manual_seed(0)
    # no bias: it cancels in r_chosen - r_rejected
    head = torch.nn.Linear(chosen_features.shape[1], 1, bias=False, device=chosen_features.device)
    torch.nn.init.zeros_(head.weight)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(steps):
        margin = head(chosen_features).squeeze(-1) - head(rejected_features).squeeze(-1)
        loss = -torch.nn.functional.logsigmoid(margin).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return head, losses


def pairwise_accuracy(head: Any, chosen_features: Any, rejected_features: Any) -> float:
    """Share of pairs where the head scores the chosen answer above the rejected one."""
    import torch

    with torch.no_grad():
        wins = head(chosen_features).squeeze(-1) > head(rejected_features).squeeze(-1)
    return wins.float().mean().item()


def plot_dpo_log(log_history: Sequence[dict[str, Any]], title: str = "DPO") -> Any:
    """Three panels from a DPOTrainer log: loss, reward margin, chosen and rejected log-probs."""
    import matplotlib.pyplot as plt

    panels = [
        ("loss", ["loss"]),
        ("reward margin (beta x log-ratio gap)", ["rewards/margins"]),
        ("summed log-prob of the answer", ["logps/chosen", "logps/rejected"]),
    ]
    series = loss_history(log_history, [key for _, keys in panels for key in keys])
    missing = [key for key, points in series.items() if not points]
    if missing:
        raise ValueError(f"The log has no {missing}: set logging_steps=1 so the trainer logs every step.")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for ax, (label, keys) in zip(axes, panels, strict=True):
        for key in keys:
            steps, values = zip(*series[key], strict=True)
            ax.plot(steps, values, "o-", label=key)
        ax.set_xlabel("step")
        ax.set_title(label)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
