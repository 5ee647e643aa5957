"""Chapters 03 and 04's answer keys compute on stand-ins for the chapter objects, and accept the worked answers."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from workbook.exercises import ChapterExercises  # noqa: E402
from workbook.exercises.ch03 import EXERCISES as CH03  # noqa: E402
from workbook.exercises.ch04 import EXERCISES as CH04  # noqa: E402
from workbook.topics.lora_rank import RankExplorer  # noqa: E402


def test_ch03_key_on_plain_numbers(capsys):
    head = torch.nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0.0, -1.0]]))
    context = {
        "reward_head": head,
        "test_chosen": torch.tensor([[2.0, 0.0, 0.0]]), "test_rejected": torch.tensor([[0.0, 0.0, 1.0]]),
        "rl_rewards": [1.5], "logp_policy": [-40.0], "logp_reference": [-46.0],
        "pol_c": [-20.0], "pol_r": [-31.0], "ref_c": [-22.0], "ref_r": [-30.0],
        "train_rows": [{"prompt": "p", "chosen": "a", "rejected": "b"}] * 3,
    }  # fmt: skip
    ex = ChapterExercises("03", CH03, context)

    def by_hand(pc, pr, rc, rr, beta):
        return math.log(1 + math.exp(-beta * ((pc - rc) - (pr - rr))))

    assert ex.check(1, by_hand)
    assert ex.check(2, 1 / (1 + math.exp(-3.0)))
    assert ex.check(3, 1.5 - 0.2 * 6)
    assert ex.check(4, math.log(1 + math.exp(-0.5 * 3)))
    assert ex.check(5, (6, 3)) and not ex.check(5, (3, 3))
    assert "Hint:" in capsys.readouterr().out


def test_ch04_key_on_the_tiny_llama(tiny_llama):
    model, _ = tiny_llama
    torch.manual_seed(0)
    explorer = RankExplorer(torch.randn(16, 8))
    ex = ChapterExercises("04", CH04, {"model": model, "explorer": explorer})
    assert ex.check(1, lambda d, k, r: r * (d + k)) and not ex.check(1, lambda d, k, r: d * k)
    energy = explorer.s.double() ** 2
    assert ex.check(2, int((energy.cumsum(0) / energy.sum() < 0.75).sum().item()) + 1)
    assert ex.check(3, 2 * 4 * (32 + 32) + 2 * 4 * (16 + 32))  # 2 layers: q is 32x32, v is 16x32 (2 of 4 heads)
    params = model.num_parameters()
    assert ex.check(4, params * 10 / 1e9)  # 2 + 2 + 4 + 1 + 1 bytes per parameter
    mlp = sum(p.numel() for name, p in model.named_parameters() if ".mlp." in name)
    assert ex.check(5, mlp / params)
