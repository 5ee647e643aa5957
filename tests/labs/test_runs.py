"""workbook.labs.runs: an interrupted QLoRA run resumes from its last checkpoint instead of starting over; run names;
where runs and the evidence packet live (Drive only when mounted in Colab); the packet download."""

from __future__ import annotations

import json
import zipfile

import pytest
import torch

from workbook.core.config import ROOT
from workbook.labs import runs
from workbook.labs.callbacks import InterruptAfter, StampLogs
from workbook.labs.data import load_compliance, prompt_completion
from workbook.labs.runs import (
    OUTPUT_ENV,
    download_packet,
    evidence_dir,
    latest_checkpoint,
    output_root,
    run_info,
    run_name,
    training_log_rows,
)
from workbook.topics import checkpoints


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


@pytest.fixture
def colab(monkeypatch, tmp_path):
    """A Colab session whose Drive (MyDrive) would appear at tmp_path/MyDrive once mounted."""
    monkeypatch.setattr(checkpoints, "in_colab", lambda: True)
    monkeypatch.setattr(runs, "in_colab", lambda: True)
    monkeypatch.setattr(checkpoints, "DRIVE_ROOT", tmp_path / "MyDrive")
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv(OUTPUT_ENV, raising=False)
    return tmp_path / "MyDrive" / checkpoints.COURSE_FOLDER


def test_runs_and_evidence_share_the_drive_folder_only_when_mounted(monkeypatch, tmp_path, colab):
    assert output_root() == ROOT / "labs" / "outputs" and evidence_dir() == ROOT / "labs" / "evidence"  # on the VM
    (tmp_path / "MyDrive").mkdir()
    assert output_root() == colab / "lab1" and evidence_dir() == colab / "lab1" / "evidence"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert output_root() == ROOT / "labs" / "outputs" and evidence_dir() == ROOT / "labs" / "evidence"


def test_outside_colab_the_packet_stays_beside_the_notebook(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoints, "DRIVE_ROOT", tmp_path)  # even a folder where Drive would be changes nothing
    monkeypatch.delenv(OUTPUT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert evidence_dir() == tmp_path / "evidence" and output_root() == ROOT / "labs" / "outputs"


def _packet(folder):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    (folder / "failure_analysis.md").write_text("# mine")
    return folder


def test_download_packet_zips_and_downloads_in_colab(monkeypatch, tmp_path, colab, capsys):
    downloads = []
    monkeypatch.setattr(runs, "_browser_download", downloads.append)
    archive = download_packet(_packet(tmp_path / "lab1" / "evidence"))
    assert downloads == [archive] and archive.name == "evidence_packet.zip"
    assert sorted(zipfile.ZipFile(archive).namelist()) == [
        "evidence/",
        "evidence/failure_analysis.md",
        "evidence/manifest.json",
    ]
    assert "keep it with your submission" in capsys.readouterr().out


def test_download_packet_never_fails_the_run(monkeypatch, tmp_path, colab, capsys):
    def blocked(path):
        raise RuntimeError("no browser attached")

    monkeypatch.setattr(runs, "_browser_download", blocked)
    folder = _packet(tmp_path / "evidence")
    assert download_packet(folder) is None
    assert f"The packet is in {folder}" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["local", "nbgrader"])
def test_download_packet_only_prints_the_path_outside_colab(monkeypatch, tmp_path, capsys, where):
    monkeypatch.setattr(checkpoints, "in_colab", lambda: where == "nbgrader")
    if where == "nbgrader":
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(runs, "_browser_download", lambda path: pytest.fail("no download outside a Colab session"))
    folder = _packet(tmp_path / "evidence")
    assert download_packet(folder) is None
    assert capsys.readouterr().out.strip() == f"Your evidence packet is in {folder}"
    assert not list(tmp_path.glob("*.zip"))
