"""The LoRA rank slider, built and driven without a browser."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from workbook.topics.lora_rank import RankExplorer
from workbook.ui.rank_slider import rank_slider


def test_slider_updates_the_numbers_and_checks_max_rank():
    torch.manual_seed(0)
    explorer = RankExplorer(torch.randn(40, 3) @ torch.randn(3, 30))
    view = rank_slider(explorer, initial=2)
    slider, hint, numbers = view.children[:3]
    assert "busy" in hint.value
    assert slider.max == 30 and "r=2" in numbers.value
    slider.value = 5
    assert "r=5" in numbers.value and "4096x4096" in numbers.value
    with pytest.raises(ValueError):
        rank_slider(explorer, max_rank=99)
