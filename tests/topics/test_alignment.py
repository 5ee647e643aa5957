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
    dpo_losses_on_tokens,
    drift,
    kl_penalised_reward,
    kto_rows,
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


ROWS = [
    {"prompt": "What is 2 + 2?", "chosen": "It is 4.", "rejected": "Maybe 5."},
    {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "A number."},
]


def test_kto_rows_are_one_labelled_row_per_answer():
    rows = kto_rows(ROWS)
    assert len(rows) == 4 and [r["label"] for r in rows] == [True, False, True, False]
    assert rows[1] == {"prompt": "What is 2 + 2?", "completion": "Maybe 5.", "label": False}


def test_drift_is_zero_for_a_fresh_adapter(tiny):
    model, tokenizer = tiny
    moved = drift(model, tokenizer, ROWS, ROWS[:1])
    assert set(moved) == {"chosen shift", "rejected shift", "log-ratio gap", "held-out KL/token"}
    assert all(value == pytest.approx(0.0, abs=1e-5) for value in moved.values())


def test_our_dpo_loss_on_trl_tokens_is_dpotrainers_loss(tiny_llama, tmp_path):
    """The parity chapter 03 checks on the real model: our formula on DPOTrainer's own tokens gives its loss
    (a new adapter from `peft_config`, so the reference is the model with the adapter off)."""
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    model, tokenizer = tiny_llama
    data = datasets.Dataset.from_list([
        {"prompt": [{"role": "user", "content": r["prompt"]}],
         "chosen": [{"role": "assistant", "content": r["chosen"]}],
         "rejected": [{"role": "assistant", "content": r["rejected"]}]}
        for r in ROWS
    ])  # fmt: skip
    args = trl.DPOConfig(output_dir=str(tmp_path), beta=0.3, use_cpu=True, report_to="none", max_length=64)
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    trainer = trl.DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, peft_config=lora)
    examples = [trainer.train_dataset[i] for i in range(len(ROWS))]
    assert dpo_losses_on_tokens(trainer.model, examples, beta=0.3) == pytest.approx([math.log(2)] * 2, abs=1e-6)
    with torch.no_grad():
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    ours = dpo_losses_on_tokens(trainer.model, examples, beta=0.3)
    batch = trainer.data_collator(examples)
    with torch.no_grad():
        theirs = trainer.compute_loss(trainer.model, batch).item()
    assert sum(ours) / len(ours) == pytest.approx(theirs, abs=1e-5)
    assert theirs != pytest.approx(math.log(2), abs=1e-3)
