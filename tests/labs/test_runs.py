"""workbook.labs.runs: an interrupted QLoRA run resumes from its last checkpoint instead of starting over; run names
and the output root."""

from __future__ import annotations

import json

import pytest
import torch

from workbook.labs.callbacks import InterruptAfter, StampLogs
from workbook.labs.data import load_compliance, prompt_completion
from workbook.labs.runs import OUTPUT_ENV, latest_checkpoint, output_root, run_info, run_name, training_log_rows


def _trainer(output_dir, model, tokenizer, rows, callbacks):
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(output_dir),
        max_steps=5,
        per_device_train_batch_size=2,
        learning_rate=5e-4,
        logging_steps=1,
        save_strategy="steps",
        save_steps=2,
        save_total_limit=2,
        max_length=64,
        seed=0,
        use_cpu=True,
        bf16=False,
        report_to="none",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=prompt_completion(rows),
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
        callbacks=callbacks,
    )
    for param in trainer.model.parameters():
        if param.requires_grad:
            param.data = param.data.float()
    return trainer


@pytest.fixture(scope="module")
def nf4_model():
    from workbook.core.models import load_model

    model, tokenizer = load_model(quantization="nf4")
    return model, tokenizer


def test_interrupted_run_resumes_from_last_checkpoint(tmp_path, nf4_model):
    model, tokenizer = nf4_model
    rows = load_compliance()["train"][:10]
    out = tmp_path / "run"
    assert latest_checkpoint(out) is None

    first = _trainer(out, model, tokenizer, rows, [StampLogs(out), InterruptAfter(3)])
    with pytest.raises(KeyboardInterrupt):
        first.train()
    checkpoint = latest_checkpoint(out)
    assert checkpoint is not None and checkpoint.endswith("checkpoint-2")  # step 3 was lost, as after a disconnect
    started = run_info(out)["training_started_at"]

    # A fresh notebook session: the model gets a new adapter (TRL wraps it again), the trainer is rebuilt.
    base = first.model.unload() if hasattr(first.model, "unload") else model
    del first
    second = _trainer(out, base, tokenizer, rows, [StampLogs(out)])
    second.train(resume_from_checkpoint=latest_checkpoint(out))

    assert second.state.global_step == 5
    rows_logged = training_log_rows(second.state.log_history)
    steps = [r["step"] for r in rows_logged if "loss" in r]
    assert steps == [1, 2, 3, 4, 5]  # steps 1-2 restored from the checkpoint, 3-5 trained after resuming
    assert all("logged_at" in r for r in rows_logged if "loss" in r)
    assert run_info(out)["training_started_at"] == started  # the first start is kept
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows_logged if "loss" in r)


def test_run_name_changes_with_settings_and_output_root(monkeypatch, tmp_path):
    a = run_name("org/Model-X", {"lr": 1e-4})
    assert a.startswith("model-x-") and a == run_name("org/Model-X", {"lr": 1e-4})
    assert a != run_name("org/Model-X", {"lr": 2e-4})
    monkeypatch.setenv(OUTPUT_ENV, str(tmp_path))
    assert output_root() == tmp_path
