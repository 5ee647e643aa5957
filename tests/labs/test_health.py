"""workbook.labs.health: a numerically broken run (fp16 overflow) is caught, in the answers or the loss, with advice."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from workbook.core.install import UNSLOTH_ENV
from workbook.core.runtime import precision
from workbook.labs.callbacks import StopOnNonFiniteLoss
from workbook.labs.health import (
    FP32_ENV,
    BrokenRunError,
    check_generations,
    check_losses,
    degenerate_output,
    fp32_compute,
    overflow_advice,
)

T4 = {"available": True, "bf16_native": False}
FLUENT = ["Within 72 hours of becoming aware of it.", "Up to 4% of worldwide turnover.", "The ECB.", "Yes."]


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["!!!!!!!!!!!!", "!!!!!!", "!!!!!!!!!", "The ECB."], "one repeated character (e.g. '!!!!!!!!!!!!')"),
        (["", "  ", "\n", "Yes."], "3 of 4 answers are empty"),
        (["! ! ! !", "", "A fine answer.", "Another."], "2 of 4"),  # half broken is enough
        (["I cannot help with that."] * 5, "all 5 answers are the same text"),
        ([], "no answers at all"),
    ],
)
def test_degenerate_output_names_what_is_wrong(answers, expected):
    assert expected in degenerate_output(answers)


@pytest.mark.parametrize(
    "answers",
    [FLUENT, FLUENT + [""], ["4", "Paris", "Blue"], ["Yes.", "Yes."], ["Same.", "Same.", "Other."]],
)
def test_real_text_is_not_flagged(answers):
    assert degenerate_output(answers) is None  # one empty answer, short answers, two equal answers are normal


def test_check_generations_raises_with_the_advice():
    advice = overflow_advice(unsloth=True, compute_dtype="float16")
    with pytest.raises(BrokenRunError, match=r"The baseline answers look broken: 4 of 4 .*Train without it"):
        check_generations(["!!!!"] * 4, "baseline", advice)
    check_generations(FLUENT, "tuned", advice)  # no exception


def test_advice_says_what_to_change_for_each_path():
    unsloth = overflow_advice(unsloth=True, compute_dtype="float16")
    assert f"os.environ.pop('{UNSLOTH_ENV}', None)" in unsloth and "Restart" in unsloth
    assert f"os.environ['{FP32_ENV}'] = '1'" in overflow_advice(unsloth=False, compute_dtype="float16")
    assert "not an fp16 overflow" in overflow_advice(unsloth=False, compute_dtype="float32")


def test_fp32_fallback_keeps_the_gpu_and_drops_autocast():
    policy = fp32_compute(precision(T4))
    assert (policy.compute_dtype, policy.fp16, policy.bf16, policy.use_cpu) == ("float32", False, False, False)
    assert policy.trainable_fp32 and precision(T4).fp16  # the policy itself is unchanged


def test_non_finite_loss_stops_training_with_the_advice():
    callback = StopOnNonFiniteLoss("Run without WORKBOOK_UNSLOTH.")
    state = SimpleNamespace(global_step=7)
    callback.on_train_begin(SimpleNamespace(logging_nan_inf_filter=False), state, None)
    callback.on_log(None, state, None, logs={"loss": 2.5, "grad_norm": float("inf"), "learning_rate": 1e-4})
    callback.on_log(None, state, None, logs=None)
    with pytest.raises(BrokenRunError, match=r"stopped at step 7: loss = nan\. Run without WORKBOOK_UNSLOTH\."):
        callback.on_log(None, state, None, logs={"loss": float("nan")})
    with pytest.raises(BrokenRunError, match="eval_loss = inf"):
        check_losses({"eval_loss": float("inf")}, 9, "")


def test_the_callback_stops_a_real_trainer(tiny_llama, tmp_path):
    """An overflow stand-in (NaN embeddings) in SFTTrainer: train() ends at the first logged loss, with the advice."""
    import torch
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from workbook.labs.data import load_compliance, prompt_completion

    model, tokenizer = tiny_llama
    with torch.no_grad():
        model.get_input_embeddings().weight[:] = float("nan")

    def trainer(nan_filter, model):
        args = SFTConfig(
            output_dir=str(tmp_path),
            max_steps=5,
            per_device_train_batch_size=2,
            logging_steps=1,
            max_length=64,
            use_cpu=True,
            bf16=False,
            save_strategy="no",
            report_to="none",
            logging_nan_inf_filter=nan_filter,
        )
        return SFTTrainer(
            model=model,
            args=args,
            train_dataset=prompt_completion(load_compliance()["train"][:8]),
            processing_class=tokenizer,
            peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
            callbacks=[StopOnNonFiniteLoss(overflow_advice(unsloth=False, compute_dtype="float16"))],
        )

    # The trainer's default logs a NaN step's loss as the running average (0.0 here): refuse to run blind.
    with pytest.raises(ValueError, match="logging_nan_inf_filter=False"):
        trainer(True, copy.deepcopy(model)).train()
    run = trainer(False, model)
    with pytest.raises(BrokenRunError, match=rf"stopped at step 1: loss = nan\. .*{FP32_ENV}"):
        run.train()
    assert run.state.global_step == 1
