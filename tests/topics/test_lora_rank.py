"""The LoRA rank explorer: numbers, bad ranks, its plot drawn headless, and the fine-tune that feeds it a real ΔW."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import copy
import math

import pytest
import torch

from workbook.topics.lora_rank import RankExplorer, check_rank, full_weight_delta, lora_params

TEXTS = ["Short answer: yes. Why: it rains.", "Short answer: no. Why: it is dry.", "Short answer: soon. Why: time."]


def low_rank_delta(d: int = 40, k: int = 30, rank: int = 3) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(d, rank) @ torch.randn(rank, k)


def test_lora_params_is_r_times_d_plus_k():
    assert lora_params(4096, 4096, 8) == 65_536
    assert 4096 * 4096 / lora_params(4096, 4096, 8) == 256
    assert lora_params(576, 1536, 4) == 4 * (576 + 1536)


@pytest.mark.parametrize("bad", [0, -3])
def test_rank_below_one_is_refused(bad):
    with pytest.raises(ValueError, match="at least 1"):
        check_rank(bad, 10, 20)


def test_rank_above_min_dimension_is_refused_with_the_limit():
    with pytest.raises(ValueError, match=r"min\(d, k\)=20.*between 1 and 20"):
        lora_params(30, 20, 21)
    with pytest.raises(ValueError, match="between 1 and 30"):
        RankExplorer(low_rank_delta()).report(31)


@pytest.mark.parametrize("bad", [2.5, "8", True, None])
def test_rank_must_be_a_whole_number(bad):
    with pytest.raises(ValueError, match="whole number"):
        check_rank(bad, 10, 10)


def test_exact_low_rank_matrix_is_captured_at_its_rank():
    explorer = RankExplorer(low_rank_delta(rank=3))
    assert explorer.report(3).energy_captured == pytest.approx(1.0, abs=1e-5)
    assert explorer.report(3).relative_error == pytest.approx(0.0, abs=3e-3)
    assert explorer.report(1).energy_captured < explorer.report(2).energy_captured < 1.0
    assert torch.allclose(explorer.approximation(3), explorer.delta, atol=1e-4)


def test_relative_error_matches_a_direct_computation():
    torch.manual_seed(1)
    explorer = RankExplorer(torch.randn(25, 35))
    for r in (1, 5, 25):
        direct = (explorer.delta - explorer.approximation(r)).norm() / explorer.delta.norm()
        assert explorer.report(r).relative_error == pytest.approx(float(direct), abs=1e-4)
    assert explorer.rank_for_energy(1.0) <= 25
    assert explorer.report(explorer.rank_for_energy(0.9)).energy_captured >= 0.9


@pytest.mark.parametrize(
    "matrix, message",
    [(torch.zeros(4, 4), "all zeros"), (torch.ones(3), "2-D"), (torch.tensor([[1.0, float("nan")]]), "NaN")],
)
def test_unusable_delta_is_refused(matrix, message):
    with pytest.raises(ValueError, match=message):
        RankExplorer(matrix)


def test_plot_renders_headless():
    assert len(RankExplorer(low_rank_delta()).plot(2).axes) >= 3


def test_full_weight_delta_of_an_fp16_model_is_finite_and_leaves_the_model_as_it_was(tiny_llama):
    model, tokenizer = tiny_llama
    model.half()  # what load_model() gives on a T4
    layer = model.model.layers[1].self_attn.q_proj
    ids = tokenizer(TEXTS[:1], return_tensors="pt")["input_ids"]
    weight, logits = layer.weight.clone(), model(ids).logits
    delta, losses = full_weight_delta(model, tokenizer, layer, TEXTS, steps=3, lr=1e-3)
    assert delta.shape == layer.weight.shape and delta.dtype == torch.float32
    assert torch.isfinite(delta).all(), "a training step left NaN or inf in ΔW"
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    RankExplorer(delta)  # refuses a ΔW that is all zeros or not finite
    assert torch.equal(layer.weight, weight) and all(p.requires_grad for p in model.parameters())
    assert torch.equal(model(ids).logits, logits)  # the hook is gone
    assert not model.training


def test_full_weight_delta_is_what_training_the_weight_itself_gives(tiny_llama):
    model, tokenizer = tiny_llama  # fp32: training W in place is sound here, so it is the reference
    direct = copy.deepcopy(model)
    layer = direct.model.layers[1].self_attn.q_proj
    before = layer.weight.detach().clone()
    direct.requires_grad_(False)
    layer.weight.requires_grad_(True)
    optimizer = torch.optim.AdamW([layer.weight], lr=1e-3, weight_decay=0.0)
    for step in range(2):
        batch = [TEXTS[(4 * step + i) % len(TEXTS)] for i in range(4)]
        encoded = tokenizer(batch, return_tensors="pt", padding=True)
        labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)
        direct(**encoded, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    delta, _ = full_weight_delta(model, tokenizer, model.model.layers[1].self_attn.q_proj, TEXTS, steps=2, lr=1e-3)
    assert torch.allclose(delta, layer.weight.detach() - before, atol=1e-5)


def test_the_cost_says_more_once_lora_outgrows_the_matrix():
    from workbook.topics.lora_rank import RankReport

    assert RankReport(8, 4096, 4096, 1.0, 0.0, 65_536, 16_777_216).cost == "256.0x fewer"
    assert RankReport(40, 48, 40, 1.0, 0.0, 3_520, 1_920).cost == "1.8x more"
