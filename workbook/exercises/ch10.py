"""Chapter 10's exercises: group-relative and leave-one-out advantages, PPO's clipped objective, the KL estimate,
and the cost of a GRPO step, computed with the course library from the chapter's objects."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.online_rl import clipped_surrogate, group_advantages, kl_estimate, rloo_advantages

EXERCISES = {
    1: Exercise(
        "GRPO's scaled advantage of the group's first completion",
        lambda group_rewards, GROUP: group_advantages(group_rewards, GROUP)[0],
        "Subtract the group's mean reward, then divide by the group's sample standard deviation (n - 1) plus 1e-4.",
        tol=1e-6,
    ),
    2: Exercise(
        "RLOO's advantage of the group's last completion",
        lambda group_rewards, GROUP: rloo_advantages(group_rewards, GROUP)[-1],
        "The baseline is the mean of the OTHER G - 1 rewards, not of all G.",
        tol=1e-9,
    ),
    3: Exercise(
        "PPO's clipped objective min(rho A, clip(rho, 1 - eps, 1 + eps) A) as a function",
        clipped_surrogate,
        "Clip the ratio into [1 - eps, 1 + eps], multiply both the clipped and the raw ratio by A, keep the smaller.",
        tol=1e-9,
        cases=(
            (1.5, 1.0, 0.2),
            (0.5, 1.0, 0.2),
            (0.5, -1.0, 0.2),
            (1.5, -2.0, 0.2),
            (1.1, 0.7, 0.2),
            (0.9, -0.3, 0.05),
        ),
    ),
    4: Exercise(
        "TRL GRPO's per-token KL estimate exp(ref - logp) - (ref - logp) - 1 as a function",
        kl_estimate,
        "With d = ref_logp - logp, the estimate is exp(d) - d - 1: zero when the log-probs agree, never negative.",
        tol=1e-9,
        cases=((-1.0, -1.0), (-2.0, -1.5), (-0.3, -2.0), (-5.0, -4.0)),
    ),
    5: Exercise(
        "completions and distinct prompts per optimiser step of the section 3 run",
        lambda grpo_args: (
            grpo_args.per_device_train_batch_size * grpo_args.gradient_accumulation_steps,
            grpo_args.per_device_train_batch_size * grpo_args.gradient_accumulation_steps // grpo_args.num_generations,
        ),
        "Completions per step = per_device_train_batch_size x gradient_accumulation_steps (one device); each prompt "
        "is sampled num_generations times.",
    ),
}
