"""Chapter 01's answer key: each expected value computed by the library, on small stand-ins."""

from types import SimpleNamespace

import pytest
import torch

from workbook.exercises.ch01 import EXERCISES
from workbook.topics.ladder import gpu_hours


def test_four_to_six_exercises_numbered_from_one():
    assert sorted(EXERCISES) == list(range(1, len(EXERCISES) + 1)) and 4 <= len(EXERCISES) <= 6


def test_surprise_index_and_ladder_rung():
    assert EXERCISES[1].expected(torch.tensor([0.5, 3.0, 0.1])) == 1
    assert EXERCISES[6].expected() == "rag"


def test_flops_cases_follow_the_forward_input_weight_gradient_count():
    for n_frozen, n_trained in EXERCISES[4].cases:
        assert EXERCISES[4].expected(n_frozen, n_trained) == pytest.approx(4 * n_frozen + 6 * n_trained)


def test_ratio_and_pretraining_hours_use_the_model_size():
    layer = torch.nn.Linear(10, 10)  # 110 weights
    ft_model = SimpleNamespace(parameters=layer.parameters, config=SimpleNamespace(hidden_size=10))
    train = [{"label": "a"}, {"label": "b"}, {"label": "c"}]
    assert EXERCISES[3].expected(ft_model, 33, train) == pytest.approx((110 + 33) / 33)
    assert EXERCISES[5].expected(layer) == pytest.approx(gpu_hours(110, 2e12))
