"""The alignment helpers: the formulas, the DPO log plot, and (on the tiny random Llama) log-probs, KL, features
and the reward head."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from workbook.topics.alignment import (  # noqa: E402
    bradley_terry_probability,
    dpo_loss,
    kl_penalised_reward,
    mean_token_kl,
    pairwise_accuracy,
    plot_dpo_log,
    policy_and_reference_logprobs,
    response_features,
    response_logprobs,
    train_bradley_terry,
)


@pytest.fixture
def tiny(tiny_llama):
    """The shared tiny random Llama with a fresh LoRA adapter on q_proj and v_proj."""
    model, tokenizer = tiny_llama
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    return peft.get_peft_model(model, lora), tokenizer


PROMPTS = ["What is 2 + 2?", "Name a colour."]
ANSWERS = ["It is 4.", "Blue."]


def test_fresh_adapter_equals_reference_then_moves(tiny):
    model, tokenizer = tiny
    policy, reference = policy_and_reference_logprobs(model, tokenizer, PROMPTS, ANSWERS)
    assert policy == pytest.approx(reference, abs=1e-5)  # LoRA B starts at zero
    assert mean_token_kl(model, tokenizer, PROMPTS, ANSWERS) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.add_(0.5)
    policy, reference = policy_and_reference_logprobs(model, tokenizer, PROMPTS, ANSWERS)
    assert policy != pytest.approx(reference, abs=1e-3)
    assert mean_token_kl(model, tokenizer, PROMPTS, ANSWERS) > 0
    assert all(value < 0 for value in response_logprobs(model, tokenizer, PROMPTS, ANSWERS))


def test_logprobs_need_one_response_per_prompt(tiny):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="one response per prompt"):
        response_logprobs(model, tokenizer, PROMPTS, ANSWERS[:1])


def test_features_ignore_padding(tiny):
    model, tokenizer = tiny
    together = response_features(model, tokenizer, PROMPTS, ["Short.", "A much longer answer with many words."])
    alone = response_features(model, tokenizer, PROMPTS[:1], ["Short."])
    assert together.shape == (2, 32)
    assert torch.allclose(together[0], alone[0], atol=1e-4)


def test_bradley_terry_head_learns_a_separable_preference():
    torch.manual_seed(0)
    chosen, rejected = torch.randn(40, 8) + 1.0, torch.randn(40, 8)
    head, losses = train_bradley_terry(chosen, rejected, steps=200, lr=0.05)
    assert losses[0] == pytest.approx(0.6931, abs=1e-3) and losses[-1] < losses[0]
    assert pairwise_accuracy(head, chosen, rejected) > 0.9
    with pytest.raises(ValueError, match="same, non-zero number"):
        train_bradley_terry(chosen, rejected[:3])


def test_formulas():
    assert bradley_terry_probability(1.0, 1.0) == 0.5
    assert dpo_loss(-10, -12, -10, -12, beta=0.1) == pytest.approx(math.log(2))
    assert dpo_loss(-8, -14, -10, -12, beta=0.1) == pytest.approx(-math.log(1 / (1 + math.exp(-0.4))))
    assert kl_penalised_reward(2.0, -5.0, -7.0, beta=0.5) == pytest.approx(1.0)


def test_dpo_log_plot_names_a_missing_metric():
    import matplotlib

    matplotlib.use("Agg")
    keys = ("loss", "rewards/margins", "logps/chosen", "logps/rejected")
    log = [{"step": step, **{key: -step / 10 for key in keys}} for step in (1, 2)] + [{"train_runtime": 3.0}]
    fig = plot_dpo_log(log)
    assert [len(ax.lines) for ax in fig.axes] == [1, 1, 2]
    with pytest.raises(ValueError, match=r"'rewards/margins'.*logging_steps=1"):
        plot_dpo_log([{"step": 1, "loss": 0.69}])
