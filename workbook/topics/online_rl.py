"""Online RL written out: PPO's pieces (probability ratio, clipped surrogate, KL estimate, GAE), GRPO's
group-relative and RLOO's leave-one-out advantages, and a thin guard around reward functions so that a bad reward
(one that raises, returns nothing, or returns the wrong count) stops with a clear message instead of a traceback
from deep inside TRL.

The formulas follow TRL 1.16's `GRPOTrainer` and `RLOOTrainer` (`_generate_and_score_completions`, `_compute_loss`)
so that the chapter can check each one against what the trainer computes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

GRPO_STD_EPS = 1e-4  # TRL adds it to the group's standard deviation before dividing


def _check_groups(rewards: Sequence[float], group_size: int) -> list[float]:
    values = [float(r) for r in rewards]
    if not values:
        raise ValueError("No rewards: score at least one group of completions first.")
    if group_size < 2:
        raise ValueError(
            f"group_size={group_size}: a group-relative advantage needs at least 2 completions per prompt "
            "(with one, every advantage is 0 and nothing is learned). Set num_generations >= 2."
        )
    if len(values) % group_size:
        raise ValueError(f"{len(values)} rewards do not split into groups of {group_size}.")
    return values


def _groups(values: list[float], group_size: int) -> list[list[float]]:
    return [values[i : i + group_size] for i in range(0, len(values), group_size)]


def sample_std(values: Sequence[float]) -> float:
    """Standard deviation with Bessel's correction (n - 1), as TRL's `nanstd`."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def group_advantages(rewards: Sequence[float], group_size: int, scale: bool = True) -> list[float]:
    """GRPO: each reward minus its group's mean, divided by the group's std (+1e-4) when `scale`.

    `rewards` lists the completions prompt by prompt (group_size consecutive rewards per prompt), as TRL orders them.
    """
    values = _check_groups(rewards, group_size)
    advantages = []
    for group in _groups(values, group_size):
        mean, std = sum(group) / group_size, sample_std(group)
        advantages += [(r - mean) / (std + GRPO_STD_EPS) if scale else r - mean for r in group]
    return advantages


def rloo_advantages(rewards: Sequence[float], group_size: int) -> list[float]:
    """RLOO: each reward minus the mean reward of the *other* completions of the same prompt."""
    values = _check_groups(rewards, group_size)
    advantages = []
    for group in _groups(values, group_size):
        total = sum(group)
        advantages += [r - (total - r) / (group_size - 1) for r in group]
    return advantages


def probability_ratio(logp_new: float, logp_old: float) -> float:
    """pi_new(token) / pi_old(token) from the two log-probs."""
    return math.exp(logp_new - logp_old)


def clipped_surrogate(ratio: float, advantage: float, epsilon: float = 0.2) -> float:
    """PPO's objective for one token: min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A). The loss is its negative."""
    clipped = min(max(ratio, 1 - epsilon), 1 + epsilon)
    return min(ratio * advantage, clipped * advantage)


def kl_estimate(logp: float, ref_logp: float) -> float:
    """The per-token KL estimator TRL's GRPO uses ("k3"): exp(ref - logp) - (ref - logp) - 1, never negative."""
    delta = ref_logp - logp
    return math.exp(delta) - delta - 1


def grpo_token_loss(
    logps: Sequence[Sequence[float]],
    old_logps: Sequence[Sequence[float]],
    ref_logps: Sequence[Sequence[float]] | None,
    advantages: Sequence[float],
    epsilon: float = 0.2,
    beta: float = 0.0,
    kl_ratio_weighted: bool = True,
) -> float:
    """TRL's `loss_type="grpo"` by hand: per token -surrogate + beta * KL, averaged over each completion's tokens,
    then over completions. Each argument is one list of per-token log-probs per completion.

    `kl_ratio_weighted` multiplies each token's KL estimate by its ratio pi/pi_old, as TRL does by default
    (`use_bias_correction_kl=True`: the samples came from pi_old, the KL is wanted under pi)."""
    if not (len(logps) == len(old_logps) == len(advantages)):
        raise ValueError("Pass one list of log-probs and one advantage per completion.")
    per_completion = []
    for i, (new, old) in enumerate(zip(logps, old_logps, strict=True)):
        if not new:
            raise ValueError(f"completion {i} has no tokens.")
        total = 0.0
        for t, (lp, lo) in enumerate(zip(new, old, strict=True)):
            ratio = probability_ratio(lp, lo)
            total -= clipped_surrogate(ratio, advantages[i], epsilon)
            if beta:
                total += beta * kl_estimate(lp, ref_logps[i][t]) * (ratio if kl_ratio_weighted else 1.0)
        per_completion.append(total / len(new))
    return sum(per_completion) / len(per_completion)


def gae_advantages(
    rewards: Sequence[float], values: Sequence[float], gamma: float = 1.0, lam: float = 1.0
) -> list[float]:
    """PPO's per-token advantage (generalised advantage estimation) from per-token rewards and a value model's
    estimates V(s_t): delta_t = r_t + gamma V(s_t+1) - V(s_t), A_t = sum_k (gamma lam)^k delta_t+k (V after the
    last token is 0)."""
    if len(rewards) != len(values) or not rewards:
        raise ValueError("Pass one reward and one value estimate per token (at least one token).")
    advantages, running = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        next_value = values[t + 1] if t + 1 < len(values) else 0.0
        running = rewards[t] + gamma * next_value - values[t] + gamma * lam * running
        advantages[t] = running
    return advantages


class RewardError(ValueError):
    """A reward function misbehaved: the message names it and says what it returned."""


def checked_reward(function: Callable[..., Sequence[float | None]]) -> Callable[..., list[float | None]]:
    """Wrap a TRL reward function (`f(prompts, completions, **kwargs) -> one float per completion`) so that an
    exception, an empty list, a wrong count or a non-number is reported with the function's name and the first
    completion, before TRL sees it. The wrapper keeps the name TRL logs (`rewards/<name>/mean`)."""
    name = getattr(function, "__name__", type(function).__name__)

    @functools.wraps(function)
    def wrapper(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        first = repr(completions[0])[:80] if completions else "(none)"
        try:
            scores = function(prompts=prompts, completions=completions, **kwargs)
        except Exception as error:
            raise RewardError(
                f"reward function {name!r} raised {type(error).__name__}: {error} "
                f"(on a batch of {len(completions)} completions, the first {first})"
            ) from error
        scores = list(scores) if scores is not None else []
        if not scores:
            raise RewardError(f"reward function {name!r} returned no rewards; it must return one per completion.")
        if len(scores) != len(completions):
            raise RewardError(
                f"reward function {name!r} returned {len(scores)} rewards for {len(completions)} completions."
            )
        for i, score in enumerate(scores):
            if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                                      or math.isnan(score) or math.isinf(score)):  # fmt: skip
                raise RewardError(
                    f"reward function {name!r} returned {score!r} for completion {i}; rewards must be finite numbers "
                    "(or None to skip a completion)."
                )
        return scores

    return wrapper


def reward_functions(*functions: Callable[..., Sequence[float | None]]) -> list[Callable[..., list[float | None]]]:
    """The reward list for `GRPOTrainer`/`RLOOTrainer(reward_funcs=...)`, each function wrapped by `checked_reward`."""
    if not functions:
        raise ValueError("No reward functions: pass at least one, e.g. reward_functions(format_reward).")
    for function in functions:
        if not callable(function):
            raise TypeError(f"{function!r} is not a reward function (it must be callable).")
    return [checked_reward(f) for f in functions]


def check_group_size(num_generations: int, completions_per_step: int) -> int:
    """The number of prompts per step for a group size, or a clear error (TRL needs >= 2 and an exact split)."""
    if num_generations < 2:
        raise ValueError(
            f"num_generations={num_generations}: GRPO and RLOO compare completions of the same prompt, so they need "
            "at least 2 per prompt."
        )
    if completions_per_step % num_generations:
        raise ValueError(
            f"{completions_per_step} completions per step do not split into groups of {num_generations}: make the "
            "batch size a multiple of num_generations."
        )
    return completions_per_step // num_generations


def log_series(log_history: Sequence[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    """(step, value) for every log entry that has `key`."""
    return [(int(entry["step"]), float(entry[key])) for entry in log_history if key in entry]


def plot_rl_log(log_history: Sequence[dict[str, Any]], title: str = "GRPO", keys: Sequence[str] | None = None) -> Any:
    """One panel per logged metric of an online RL run (mean reward, within-group spread, KL, completion length)."""
    import matplotlib.pyplot as plt

    keys = list(keys or ("reward", "reward_std", "kl", "completions/mean_length"))
    missing = [key for key in keys if not log_series(log_history, key)]
    if missing:
        raise ValueError(f"The log has no {missing}: set logging_steps=1 (and beta > 0 for 'kl').")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys), 3.2))
    for ax, key in zip(axes if len(keys) > 1 else [axes], keys, strict=True):
        steps, values = zip(*log_series(log_history, key), strict=True)
        ax.plot(steps, values, "o-", markersize=3)
        ax.set_xlabel("step")
        ax.set_title(key, fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def rising_beyond_noise(values: Sequence[float], window: int | None = None) -> tuple[float, float, float]:
    """(mean of the first window, mean of the last window, the pooled standard error of their difference).

    A rise is beyond noise when last - first exceeds twice the standard error.
    """
    values = [float(v) for v in values]
    window = window or max(2, len(values) // 4)
    if len(values) < 2 * window:
        raise ValueError(f"{len(values)} values are too few for two windows of {window}.")
    first, last = values[:window], values[-window:]
    spread = math.sqrt(sample_std(first) ** 2 / window + sample_std(last) ** 2 / window)
    return sum(first) / window, sum(last) / window, spread


def sample_group(
    model: Any,
    tokenizer: Any,
    messages: list[dict[str, str]],
    n: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    seed: int = 0,
) -> tuple[list[int], list[list[int]]]:
    """The chat prompt's token ids and `n` sampled completions (token ids, cut after the first end-of-turn token,
    which they keep, as TRL's completion mask does)."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            torch.tensor([prompt_ids], device=model.device), do_sample=True, temperature=temperature, top_p=1.0,
            top_k=0, max_new_tokens=max_new_tokens, num_return_sequences=n, pad_token_id=tokenizer.eos_token_id,
        )  # fmt: skip
    completions = []
    for row in out[:, len(prompt_ids) :].tolist():
        cut = row.index(tokenizer.eos_token_id) + 1 if tokenizer.eos_token_id in row else len(row)
        completions.append(row[:cut])
    return prompt_ids, completions


def token_logps(model: Any, prompt_ids: list[int], completion_ids: list[int], reference: bool = False) -> Any:
    """Per-token log-probabilities of a completion given its prompt (a 1-D tensor that keeps its graph when the
    model is trainable and grad is on). reference=True switches a PEFT adapter off (the reference policy)."""
    import contextlib

    import torch

    context = model.disable_adapter() if reference and hasattr(model, "disable_adapter") else contextlib.nullcontext()
    ids = torch.tensor([prompt_ids + completion_ids], device=model.device)
    with context:
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float()
    return torch.log_softmax(logits, -1).gather(1, ids[0, len(prompt_ids) :, None]).squeeze(1)


def trl_loss_inputs(
    prompt_ids: list[int],
    completions: list[list[int]],
    advantages: Sequence[float],
    old_logps: list[Any],
    ref_logps: list[Any],
    pad_id: int,
    device: Any,
) -> dict[str, Any]:
    """The batch `GRPOTrainer._compute_loss` reads, built from one prompt's group (completions right-padded), on
    `device` (the model's)."""
    import torch

    width = max(len(c) for c in completions)

    def padded(rows: list[Any], fill: float) -> Any:
        return torch.tensor([list(map(float, r)) + [fill] * (width - len(r)) for r in rows], device=device)

    n = len(completions)
    return {
        "prompt_ids": torch.tensor([prompt_ids] * n, device=device),
        "prompt_mask": torch.ones(n, len(prompt_ids), dtype=torch.long, device=device),
        "completion_ids": padded(completions, pad_id).long(),
        "completion_mask": padded([[1] * len(c) for c in completions], 0).long(),
        "advantages": torch.tensor(list(advantages), dtype=torch.float32, device=device),
        "old_per_token_logps": padded([lp.tolist() for lp in old_logps], 0.0),
        "ref_per_token_logps": padded([lp.tolist() for lp in ref_logps], 0.0),
        "num_items_in_batch": torch.tensor(float(sum(len(c) for c in completions)), device=device),
    }


class GroupSpread:
    """A `TrainerCallback` for GRPO/RLOO: after every step, the mean within-group standard deviation of the total
    reward (TRL logs the spread over the whole batch as `reward_std`, and the share of flat groups)."""

    def __init__(self, trainer: Any, group_size: int):
        self.trainer, self.group_size, self.spread = trainer, group_size, []

    def _total_rewards(self) -> list[float]:
        names, weights = self.trainer.reward_func_names, self.trainer.reward_weights.tolist()
        per_func = [list(self.trainer._logs["rewards"][name]) for name in names]
        return [sum(w * r[i] for w, r in zip(weights, per_func, strict=True)) for i in range(len(per_func[0]))]

    def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        rewards = self._total_rewards()
        groups = _groups(rewards, self.group_size)
        self.spread.append((state.global_step, sum(sample_std(g) for g in groups) / len(groups)))

    def __getattr__(self, name: str) -> Any:  # the other TrainerCallback events: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def record_figures(path: Any, **figures: Any) -> dict[str, Any]:
    """Merge measured figures into a JSON file (bench/online_rl.py reads it after a run); returns the whole record."""
    import json
    from pathlib import Path

    path = Path(path)
    record = json.loads(path.read_text()) if path.is_file() else {}
    record.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record
