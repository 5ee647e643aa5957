"""Checkpoint helpers: the Drive/local choice, folder listings, the pickle demonstration and the crash callback."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from workbook.topics.checkpoints import (
    HarmlessPayload,
    SimulatedCrash,
    checkpoint_dir,
    checkpoints_in,
    crash_after_save,
    format_listing,
    list_checkpoint,
)


def test_checkpoint_dir_prefers_drive_when_mounted(tmp_path):
    drive, local = tmp_path / "MyDrive", tmp_path / "local"
    assert checkpoint_dir("run", drive_root=drive, local_root=local) == local / "run"
    drive.mkdir()
    path = checkpoint_dir("run", drive_root=drive, local_root=local)
    assert path == drive / "post-training-workbook" / "checkpoints" / "run" and path.is_dir()
    (path / "checkpoint-9").mkdir()
    (tmp_path / "keep.txt").write_text("mine")
    assert checkpoint_dir("run", drive_root=drive, local_root=local) == path and (path / "checkpoint-9").is_dir()
    assert not any(checkpoint_dir("run", fresh=True, drive_root=drive, local_root=local).iterdir())
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("bad", ["", "..", "../escape", "/abs/path"])
def test_checkpoint_dir_rejects_bad_names(tmp_path, bad):
    with pytest.raises(ValueError, match="plain relative folder name"):
        checkpoint_dir(bad, drive_root=tmp_path / "none", local_root=tmp_path)


def test_listing_and_ordering(tmp_path):
    for step in (10, 2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "checkpoint-final-notes").mkdir()
    assert [p.name for p in checkpoints_in(tmp_path)] == ["checkpoint-2", "checkpoint-4", "checkpoint-10"]
    folder = tmp_path / "checkpoint-2"
    (folder / "adapter_model.safetensors").write_bytes(b"x" * 1000)
    (folder / "optimizer.pt").write_bytes(b"x" * 2000)
    (folder / "trainer_state.json").write_text("{}")
    entries = {e.name: e for e in list_checkpoint(folder)}
    assert entries["optimizer.pt"].bytes == 2000 and "pickle" in entries["optimizer.pt"].kind
    assert "no code" in entries["adapter_model.safetensors"].kind
    assert "total" in format_listing(list(entries.values()))
    with pytest.raises(ValueError, match="not a folder"):
        list_checkpoint(tmp_path / "missing")


def test_harmless_payload_runs_print_and_weights_only_refuses_it(capsys):
    assert pickle.loads(pickle.dumps(HarmlessPayload())) is None
    assert "pickle ran code!" in capsys.readouterr().out
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(1), "p": HarmlessPayload()}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)
    assert "pickle ran code!" not in capsys.readouterr().out


def test_crash_callback():
    callback = crash_after_save(3)

    class State:
        global_step = 2

    callback.on_save(None, State(), None)  # before step 3: nothing happens
    State.global_step = 3
    with pytest.raises(SimulatedCrash, match="step 3"):
        callback.on_save(None, State(), None)
    with pytest.raises(ValueError):
        crash_after_save(0)
