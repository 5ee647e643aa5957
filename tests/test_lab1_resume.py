"""Lab 1 checkpoints: an interrupted QLoRA run resumes from its last checkpoint instead of starting over."""

from __future__ import annotations

import json

import pytest
import torch

from workbook.labs import lab1


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
        train_dataset=lab1.prompt_completion(rows),
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
    rows = lab1.load_compliance()["train"][:10]
    out = tmp_path / "run"
    assert lab1.latest_checkpoint(out) is None

    first = _trainer(out, model, tokenizer, rows, [lab1.StampLogs(out), lab1.InterruptAfter(3)])
    with pytest.raises(KeyboardInterrupt):
        first.train()
    checkpoint = lab1.latest_checkpoint(out)
    assert checkpoint is not None and checkpoint.endswith("checkpoint-2")  # step 3 was lost, as after a disconnect
    started = lab1.run_info(out)["training_started_at"]

    # A fresh notebook session: the model gets a new adapter (TRL wraps it again), the trainer is rebuilt.
    base = first.model.unload() if hasattr(first.model, "unload") else model
    del first
    second = _trainer(out, base, tokenizer, rows, [lab1.StampLogs(out)])
    second.train(resume_from_checkpoint=lab1.latest_checkpoint(out))

    assert second.state.global_step == 5
    rows_logged = lab1.training_log_rows(second.state.log_history)
    steps = [r["step"] for r in rows_logged if "loss" in r]
    assert steps == [1, 2, 3, 4, 5]  # steps 1-2 restored from the checkpoint, 3-5 trained after resuming
    assert all("logged_at" in r for r in rows_logged if "loss" in r)
    assert lab1.run_info(out)["training_started_at"] == started  # the first start is kept
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows_logged if "loss" in r)


def test_run_name_changes_with_settings_and_output_root(monkeypatch, tmp_path):
    a = lab1.run_name("org/Model-X", {"lr": 1e-4})
    assert a.startswith("model-x-") and a == lab1.run_name("org/Model-X", {"lr": 1e-4})
    assert a != lab1.run_name("org/Model-X", {"lr": 2e-4})
    monkeypatch.setenv(lab1.OUTPUT_ENV, str(tmp_path))
    assert lab1.output_root() == tmp_path


def test_adapter_versions_dedupe_by_hash(tmp_path):
    class FakeModel:
        def __init__(self, payload: bytes):
            self.payload = payload

        def save_pretrained(self, folder):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "adapter_model.safetensors").write_bytes(self.payload)

    first = lab1.save_adapter(FakeModel(b"one"), tmp_path, "run-a")
    again = lab1.save_adapter(FakeModel(b"one"), tmp_path, "run-a")
    second = lab1.save_adapter(FakeModel(b"two"), tmp_path, "run-b")
    assert first == again and first["version"] == "v1" and second["version"] == "v2"
    assert [a["version"] for a in lab1.adapter_versions(tmp_path)] == ["v1", "v2"]


def test_load_compliance_refuses_a_changed_split(tmp_path):
    import shutil

    folder = shutil.copytree(lab1.COMPLIANCE_DIR, tmp_path / "compliance")
    with (folder / "locked_test.jsonl").open("a") as handle:
        handle.write('{"id": "sneaky", "question": "q", "answer": "a", "key_facts": []}\n')
    with pytest.raises(ValueError, match="locked_test.jsonl"):
        lab1.load_compliance(folder)


def test_check_answers_prints_verdicts(capsys):
    assert lab1.check_answers({"q1": "b", "q2": "c", "q3": ""}) == 1
    out = capsys.readouterr().out
    assert "q1: correct" in out and "q2: incorrect" in out and "q3: not answered" in out
