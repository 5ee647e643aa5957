"""The alignment helpers on a tiny random Llama with the course tokenizer: log-probs, KL, features, reward head."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from workbook.topics.alignment import (  # noqa: E402
    mean_token_kl,
    pairwise_accuracy,
    policy_and_reference_logprobs,
    response_features,
    response_logprobs,
    train_bradley_terry,
)


@pytest.fixture(scope="module")
def tiny():
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from workbook.core.models import offline_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(offline_checkpoint())
    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
    )
    model = LlamaForCausalLM(config)
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
