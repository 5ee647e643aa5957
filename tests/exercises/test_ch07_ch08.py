"""Chapters 07 and 08's answer keys: each computes from stand-ins for the chapter's objects, and the worked
answers in the solutions notebooks (re-typed here) are what the keys expect."""

from __future__ import annotations

import math

import pytest
import torch

from workbook.exercises import ChapterExercises
from workbook.exercises.ch07 import EXERCISES as CH07
from workbook.exercises.ch08 import EXERCISES as CH08


def test_ch07_rotation_and_counts(tmp_path, capsys):
    def kept(max_steps, save_steps, limit):
        saves = list(range(save_steps, max_steps + 1, save_steps))
        return (saves if saves[-1:] == [max_steps] else [*saves, max_steps])[-limit:]

    for name in ("optimizer.pt", "rng_state.pth", "adapter_model.safetensors", "trainer_state.json"):
        (tmp_path / name).write_bytes(b"x")
    comparison = {"LoRA r=8": {"trainable": 921_600}, "IA3": {"trainable": 57_600}}

    class Multi:
        def get_base_model(self):
            return type("M", (), {"config": type("C", (), {"num_hidden_layers": 30})()})()

    ex = ChapterExercises("07", CH07, {"comparison": comparison, "last": tmp_path, "multi": Multi()})
    assert ex.check(1, kept)
    assert not ex.check(1, lambda m, s, limit: list(range(s, m + 1, s))[-limit:])  # forgets the final save
    assert ex.check(2, ["optimizer.pt", "rng_state.pth"])
    assert ex.check(3, 1_843_200) and ex.check(4, 1920)
    assert "Hint" in capsys.readouterr().out


def test_ch08_functions_and_values(capsys):
    def soften(logits, t):
        exps = [math.exp((z - max(logits)) / t) for z in logits]
        return [e / sum(exps) for e in exps]

    def ties_merge(values):
        sign = 1 if sum(values) >= 0 else -1
        agreeing = [v for v in values if v and (v > 0) == (sign > 0)]
        return sum(agreeing) / len(agreeing) if agreeing else 0.0

    layer = torch.nn.Linear(40, 20, bias=False)
    table = {"base": {"upper NLL": 2.0, "reverse NLL": 3.0}, "soup": {"upper NLL": 0.9, "reverse NLL": 0.4}}
    context = {"before": {"student perplexity": 900.0}, "after": {"student perplexity": 300.0},
               "layer0": layer, "table": table}  # fmt: skip
    ex = ChapterExercises("08", CH08, context)
    assert ex.check(1, soften) and not ex.check(1, lambda logits, t: soften(logits, 1.0))
    assert ex.check(2, 3.0)
    nnz = round(800 * 0.1)
    assert ex.check(3, nnz * 6 + 21 * 4)
    assert ex.check(4, ties_merge) and not ex.check(4, lambda values: sum(values) / len(values))
    assert not ex.check(5, lambda a, b, t: [(1 - t) * x + t * y for x, y in zip(a, b, strict=True)])  # the chord
    assert ex.check(6, "soup")
    assert "Hint" in capsys.readouterr().out


@pytest.mark.parametrize("key", [CH07, CH08])
def test_keys_have_hints(key):
    assert all(e.hint and e.prompt for e in key.values()) and 4 <= len(key) <= 6
