"""Chapter 03's exercises: the DPO loss, the Bradley-Terry reward head, the RLHF objective and KTO's data."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.alignment import bradley_terry_probability, dpo_loss, kl_penalised_reward, kto_rows


def _head_probability(reward_head, test_chosen, test_rejected) -> float:
    import torch

    with torch.no_grad():
        return bradley_terry_probability(reward_head(test_chosen[0]).item(), reward_head(test_rejected[0]).item())


def _mean_dpo_loss(pol_c, pol_r, ref_c, ref_r) -> float:
    return sum(dpo_loss(*v, beta=0.5) for v in zip(pol_c, pol_r, ref_c, ref_r, strict=True)) / len(pol_c)


def _kto_counts(train_rows) -> tuple[int, int]:
    rows = kto_rows(train_rows)
    return len(rows), sum(not row["label"] for row in rows)


EXERCISES = {
    1: Exercise(
        "the DPO loss of one pair, written with math.log and math.exp",
        dpo_loss,
        "The gap is (log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected)); "
        "the loss is -log sigmoid(beta * gap) = log(1 + exp(-beta * gap)).",
        tol=1e-9,
        cases=((-20, -31, -22, -30, 0.1), (-5.0, -5.0, -5.0, -5.0, 0.5), (-12.5, -9.0, -14.0, -8.0, 0.01)),
    ),
    2: Exercise(
        "the Bradley-Terry probability that the reward head prefers the first held-out chosen answer",
        _head_probability,
        "Score both feature rows with reward_head(...).item(), then take the sigmoid of chosen minus rejected.",
        tol=1e-6,
    ),
    3: Exercise(
        "the KL-penalised objective (beta = 0.2) of the first RL sample after DPO",
        lambda rl_rewards, logp_policy, logp_reference: kl_penalised_reward(
            rl_rewards[0], logp_policy[0], logp_reference[0], beta=0.2
        ),
        "reward - beta * (log pi - log pi_ref), with the first entries of rl_rewards, logp_policy, logp_reference.",
        tol=1e-6,
    ),
    4: Exercise(
        "the mean DPO loss over the training pairs at beta = 0.5, from the measured log-probs",
        _mean_dpo_loss,
        "Same log-probs, beta = 0.5 in every pair's loss, then the average over all pairs.",
        tol=1e-6,
    ),
    5: Exercise(
        "the number of KTO rows from train_rows, and how many are undesirable",
        _kto_counts,
        "Every pair gives one row per answer; the rejected answer's row is the undesirable one.",
    ),
}
