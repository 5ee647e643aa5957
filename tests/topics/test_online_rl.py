"""Online RL formulas and the reward guard: checked against hand values and against TRL's own code."""

from __future__ import annotations

import math

import pytest

from workbook.topics.online_rl import (
    RewardError,
    check_group_size,
    clipped_surrogate,
    gae_advantages,
    group_advantages,
    grpo_token_loss,
    kl_estimate,
    log_series,
    probability_ratio,
    reward_functions,
    rising_beyond_noise,
    rloo_advantages,
    sample_std,
)
from workbook.topics.rewards import format_reward


def test_group_advantages_match_trl_formula():
    torch = pytest.importorskip("torch")
    from trl.trainer.utils import nanstd

    rewards = [1.5, 0.0, 0.5, 1.5, 0.0, 0.0, 1.0, 0.5]
    grouped = torch.tensor(rewards).view(-1, 4)
    expected = (grouped - grouped.mean(1, keepdim=True)) / (nanstd(grouped, dim=1).unsqueeze(1) + 1e-4)
    assert group_advantages(rewards, 4) == pytest.approx(expected.flatten().tolist(), abs=1e-5)
    assert group_advantages([1.0, 0.0], 2, scale=False) == [0.5, -0.5]


def test_flat_group_has_zero_advantage():
    assert group_advantages([1.0, 1.0, 1.0], 3) == [0.0, 0.0, 0.0]
    assert rloo_advantages([1.0, 1.0, 1.0], 3) == [0.0, 0.0, 0.0]


def test_rloo_is_scaled_unnormalised_grpo():
    rewards = [1.5, 1.5, 0.0, 0.5]
    assert rloo_advantages(rewards, 4)[2] == pytest.approx(0.0 - 3.5 / 3)
    for a, b in zip(group_advantages(rewards, 4, scale=False), rloo_advantages(rewards, 4), strict=True):
        assert b == pytest.approx(a * 4 / 3)


@pytest.mark.parametrize("bad", [([], 4), ([1.0, 2.0], 1), ([1.0, 2.0, 3.0], 2)])
def test_bad_groups_get_clear_messages(bad):
    with pytest.raises(ValueError, match="No rewards|at least 2|do not split"):
        group_advantages(*bad)
    with pytest.raises(ValueError):
        rloo_advantages(*bad)


def test_check_group_size():
    assert check_group_size(4, 8) == 2
    with pytest.raises(ValueError, match="at least 2"):
        check_group_size(1, 8)
    with pytest.raises(ValueError, match="multiple of num_generations"):
        check_group_size(3, 8)


def test_clipped_surrogate_cases():
    assert clipped_surrogate(1.5, 1.0, 0.2) == pytest.approx(1.2)  # gain capped
    assert clipped_surrogate(0.5, 1.0, 0.2) == pytest.approx(0.5)  # loss never capped
    assert clipped_surrogate(0.5, -1.0, 0.2) == pytest.approx(-0.8)
    assert clipped_surrogate(1.5, -1.0, 0.2) == pytest.approx(-1.5)
    assert probability_ratio(-1.0, -1.0) == 1.0


def test_kl_estimate_is_nonnegative_and_zero_when_equal():
    assert kl_estimate(-2.0, -2.0) == 0.0
    for a, b in [(-1.0, -3.0), (-3.0, -1.0), (-0.1, -0.2)]:
        assert kl_estimate(a, b) > 0


def test_grpo_token_loss_matches_trl_compute_loss_formula():
    torch = pytest.importorskip("torch")
    new = [[-1.0, -2.0, -0.5], [-0.7, -1.1]]
    old = [[-1.1, -1.8, -0.5], [-0.9, -1.0]]
    ref = [[-1.2, -1.9, -0.6], [-0.8, -1.2]]
    adv = [0.8, -0.8]
    ours = grpo_token_loss(new, old, ref, adv, epsilon=0.2, beta=0.04, kl_ratio_weighted=False)
    # TRL 1.16 loss_type="grpo": per-token -min(c1 A, c2 A) + beta kl, mean over each sequence's tokens, then over rows
    per_seq = []
    for n, o, r, a in zip(new, old, ref, adv, strict=True):
        nt, ot, rt = torch.tensor(n), torch.tensor(o), torch.tensor(r)
        c1 = torch.exp(nt - ot)
        loss = -torch.min(c1 * a, c1.clamp(0.8, 1.2) * a) + 0.04 * (torch.exp(rt - nt) - (rt - nt) - 1)
        per_seq.append(loss.mean().item())
    assert ours == pytest.approx(sum(per_seq) / 2, abs=1e-6)
    weighted = grpo_token_loss(new, old, ref, adv, epsilon=0.2, beta=0.04)  # TRL's default: KL x ratio
    assert weighted != pytest.approx(ours, abs=1e-9)
    assert grpo_token_loss(new, old, ref, adv, beta=0.0) == grpo_token_loss(new, old, None, adv, beta=0.0)
    with pytest.raises(ValueError):
        grpo_token_loss([[]], [[]], None, [1.0])


def test_gae_with_mean_value_is_group_advantage():
    rewards = [0.0, 0.0, 1.5]
    assert gae_advantages(rewards, [0.5, 0.5, 0.5]) == pytest.approx([1.0, 1.0, 1.0])
    assert gae_advantages([1.0], [0.0], gamma=0.9, lam=0.5) == [1.0]
    with pytest.raises(ValueError):
        gae_advantages([1.0], [])


def test_reward_guard_names_the_function():
    def boom(prompts, completions, **kwargs):
        raise KeyError("target")

    def empty(prompts, completions, **kwargs):
        return []

    def short(prompts, completions, **kwargs):
        return [1.0]

    def nan(prompts, completions, **kwargs):
        return [math.nan, 1.0]

    for function, message in [(boom, "'boom' raised KeyError"), (empty, "returned no rewards"),
                              (short, "returned 1 rewards for 2"), (nan, "finite numbers")]:  # fmt: skip
        with pytest.raises(RewardError, match=message):
            reward_functions(function)[0](prompts=["p", "q"], completions=["a", "b"])
    ok = reward_functions(format_reward)[0]
    assert ok.__name__ == "format_reward"
    assert ok(prompts=["p"], completions=["2 + 2 = 4"]) == [0.5]
    assert reward_functions(lambda prompts, completions, **k: [None, 1])[0](prompts=[1, 2], completions=["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        reward_functions()
    with pytest.raises(TypeError):
        reward_functions(3)


def test_series_and_noise():
    log = [{"step": 1, "reward": 0.1}, {"step": 2, "loss": 0.0}, {"step": 2, "reward": 0.3}]
    assert log_series(log, "reward") == [(1, 0.1), (2, 0.3)]
    first, last, se = rising_beyond_noise([0.0, 0.1, 0.0, 0.1, 1.0, 0.9, 1.0, 1.1])
    assert last - first > 2 * se
    assert sample_std([1.0, 3.0]) == pytest.approx(math.sqrt(2))
    with pytest.raises(ValueError):
        rising_beyond_noise([1.0, 2.0, 3.0])


def test_record_figures_merges(tmp_path):
    from workbook.topics.online_rl import record_figures

    path = tmp_path / "x" / "summary.json"
    record_figures(path, a=1)
    assert record_figures(path, b=[1, 2]) == {"a": 1, "b": [1, 2]}


def test_group_spread_callback_and_plot():
    from types import SimpleNamespace

    torch = pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from workbook.topics.online_rl import GroupSpread, plot_rl_log

    trainer = SimpleNamespace(
        reward_func_names=["f", "g"],
        reward_weights=torch.tensor([1.0, 0.0]),
        _logs={"rewards": {"f": [1.0, 0.0, 1.0, 1.0], "g": [5.0, 5.0, 5.0, 5.0]}},
    )
    spread = GroupSpread(trainer, 2)
    spread.on_step_end(None, SimpleNamespace(global_step=3), None)
    spread.on_train_begin(None, None, None)  # every other callback event is a no-op
    assert spread.spread == [(3, pytest.approx(math.sqrt(0.5) / 2))]
    log = [{"step": s, "reward": s / 10, "reward_std": 0.1, "kl": 0.0, "completions/mean_length": 9} for s in (1, 2)]
    assert len(plot_rl_log(log).axes) == 4
    with pytest.raises(ValueError, match="logging_steps=1"):
        plot_rl_log([{"step": 1, "reward": 0.0}])
