"""Chapter 10's answer key: computed by the library, the worked solutions pass it, near misses do not."""

import math
from types import SimpleNamespace

from workbook.exercises import ChapterExercises
from workbook.exercises.ch10 import EXERCISES

GROUP_REWARDS, G = [1.5, 0.0, 0.5, 1.5], 4


def grpo_first(rewards, g):  # the worked solution in the chapter
    mean = sum(rewards) / g
    std = (sum((r - mean) ** 2 for r in rewards) / (g - 1)) ** 0.5
    return (rewards[0] - mean) / (std + 1e-4)


def test_advantage_exercises(capsys):
    ex = ChapterExercises("10", EXERCISES, {"group_rewards": GROUP_REWARDS, "GROUP": G})
    assert ex.check(1, grpo_first(GROUP_REWARDS, G))
    population_std = (sum((r - 0.875) ** 2 for r in GROUP_REWARDS) / G) ** 0.5
    assert not ex.check(1, (1.5 - 0.875) / population_std)  # n instead of n - 1
    assert ex.check(2, 1.5 - (1.5 + 0.0 + 0.5) / 3)
    assert not ex.check(2, 1.5 - 0.875)  # the mean of all four
    assert "OTHER" in capsys.readouterr().out


def test_function_exercises():
    ex = ChapterExercises("10", EXERCISES, {})
    assert ex.check(3, lambda rho, a, eps: min(rho * a, max(1 - eps, min(rho, 1 + eps)) * a))
    assert not ex.check(3, lambda rho, a, eps: max(1 - eps, min(rho, 1 + eps)) * a)  # clipped only
    assert ex.check(4, lambda lp, ref: math.exp(ref - lp) - (ref - lp) - 1)
    assert not ex.check(4, lambda lp, ref: lp - ref)  # the plain log-ratio can be negative


def test_generations_per_step():
    args = SimpleNamespace(per_device_train_batch_size=8, gradient_accumulation_steps=1, num_generations=4)
    ex = ChapterExercises("10", EXERCISES, {"grpo_args": args})
    assert ex.check(5, (8, 2))
    assert not ex.check(5, (8, 8))
