import math

import pytest
import torch

from workbook.topics.distill import (
    TemperatureExplorer,
    distill_steps,
    distillation_loss,
    drop_layers,
    entropy_bits,
    mean_kl,
    soft_gradient_norms,
    soften,
)


def test_seed_worked_numbers():
    assert [round(p, 3) for p in soften([4, 2, 0], 1)] == [0.867, 0.117, 0.016]
    assert [round(p, 2) for p in soften([4, 2, 0], 2)] == [0.67, 0.24, 0.09]
    assert [round(p, 2) for p in soften([4, 2, 0], 4)] == [0.51, 0.31, 0.19]


def test_higher_temperature_flattens():
    assert entropy_bits(soften([4, 2, 0], 4)) > entropy_bits(soften([4, 2, 0], 1))
    assert math.isclose(sum(soften([1000, 0], 1)), 1.0)  # stable for huge logits


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "2", True])
def test_bad_temperature_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="temperature"):
        soften([1, 2], bad)


def test_empty_logits():
    with pytest.raises(ValueError):
        soften([], 1)


def test_loss_matches_manual_formula():
    torch.manual_seed(0)
    s, t = torch.randn(5, 7), torch.randn(5, 7)
    labels = torch.tensor([1, 2, -100, 3, 4])
    T, lam = 2.0, 0.3
    keep = labels != -100
    ps = torch.log_softmax(s[keep] / T, -1)
    pt = torch.softmax(t[keep] / T, -1)
    kl = (pt * (pt.log() - ps)).sum(-1).mean()
    ce = torch.nn.functional.cross_entropy(s[keep], labels[keep])
    expected = (1 - lam) * ce + lam * T * T * kl
    assert torch.allclose(distillation_loss(s, t, labels, T, lam), expected, atol=1e-5)


def test_loss_is_zero_for_identical_logits_and_checks_shapes():
    x = torch.randn(3, 4)
    assert distillation_loss(x, x.clone(), temperature=3).abs().item() < 1e-6
    with pytest.raises(ValueError, match="differ"):
        distillation_loss(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match="lam"):
        distillation_loss(x, x, torch.zeros(3, dtype=torch.long), lam=1.5)


def test_t_squared_keeps_gradients_in_range():
    rows = soft_gradient_norms([1, 8])
    shrink_without = rows[0]["grad_norm_without_T2"] / rows[1]["grad_norm_without_T2"]
    shrink_with = rows[0]["grad_norm_with_T2"] / rows[1]["grad_norm_with_T2"]
    assert shrink_without > 20 and shrink_with < shrink_without / 20


def test_explorer_plain_api():
    explorer = TemperatureExplorer([4, 2, 0], ["dog", "wolf", "cat"])
    assert "dog 0.665" in explorer.describe(2)
    with pytest.raises(ValueError):
        TemperatureExplorer([1, 2], ["a"])
    with pytest.raises(ValueError):
        explorer.probs(-1)


def test_distill_steps_train_an_fp32_student_of_an_fp16_teacher(tiny_llama):
    teacher, tokenizer = tiny_llama
    teacher.half().requires_grad_(False)  # what load_model() gives on a T4, frozen as in chapter 08
    student = drop_layers(teacher, [0])
    for name, parameter in student.named_parameters():
        parameter.requires_grad_("embed_tokens" not in name)
    texts = ["A kettle switches off when the water boils.", "Bread rises because yeast makes gas.", "Tides.", "Hi"]
    batches = [tokenizer(texts[i : i + 2], return_tensors="pt", padding=True) for i in (0, 2)]
    losses = distill_steps(student, teacher, batches, steps=3, lr=1e-3)
    assert all(torch.isfinite(p).all() for p in student.parameters()), "a training step left NaN or inf"
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
    assert student.dtype == torch.float32 and teacher.dtype == torch.float16 and not student.training
    assert math.isfinite(mean_kl(student, teacher, batches))
    with pytest.raises(ValueError, match="one batch"):
        distill_steps(student, teacher, [], steps=1)
