"""Checkpoint helpers: the Drive/local choice (persistent_root, mount_drive), folder listings, the pickle
demonstration and the crash callback."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from workbook.topics import checkpoints
from workbook.topics.checkpoints import (
    COURSE_FOLDER,
    HarmlessPayload,
    SimulatedCrash,
    checkpoint_dir,
    checkpoints_in,
    crash_after_save,
    format_listing,
    list_checkpoint,
    mount_drive,
    persistent_root,
)


@pytest.fixture
def colab(monkeypatch):
    """A Colab session (not graded) as the persistence helpers see it."""
    monkeypatch.setattr(checkpoints, "in_colab", lambda: True)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


class FakeMount(list):
    """Stands in for google.colab.drive.mount: records each call; declined=True raises as a refused prompt does."""

    declined = False

    def __call__(self, mountpoint):
        self.append(mountpoint)
        if self.declined:
            raise RuntimeError("credential propagation was unsuccessful")
        (mountpoint / "MyDrive").mkdir(parents=True)


@pytest.fixture
def mounts(monkeypatch):
    fake = FakeMount()
    monkeypatch.setattr(checkpoints, "_mount", fake)
    return fake


def test_persistent_root_only_in_colab_with_drive_mounted(tmp_path, monkeypatch, colab):
    drive = tmp_path / "drive" / "MyDrive"
    assert persistent_root(drive) is None  # not mounted: work stays on the VM
    drive.mkdir(parents=True)
    assert persistent_root(drive) == drive / COURSE_FOLDER
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert persistent_root(drive) is None  # grading never reads or writes Drive
    monkeypatch.delenv("NBGRADER_EXECUTION")
    monkeypatch.setattr(checkpoints, "in_colab", lambda: False)
    assert persistent_root(drive) is None  # outside Colab nothing changes, even if such a folder exists


def test_mount_drive_mounts_when_agreed(tmp_path, colab, mounts, capsys):
    drive = tmp_path / "drive" / "MyDrive"
    root = mount_drive(True, drive)
    assert mounts == [tmp_path / "drive"] and root == drive / COURSE_FOLDER and root.is_dir()
    assert "kept on Google Drive" in capsys.readouterr().out
    assert mount_drive(True, drive) == root and len(mounts) == 1  # already mounted: no second prompt


def test_mount_drive_declined_or_not_wanted_says_work_stays_on_the_vm(tmp_path, colab, mounts, capsys):
    drive = tmp_path / "drive" / "MyDrive"
    mounts.declined = True
    assert mount_drive(True, drive) is None
    out = capsys.readouterr().out
    assert "not mounted (RuntimeError" in out and "stays on this Colab VM" in out
    assert mount_drive(False, drive) is None and len(mounts) == 1  # USE_DRIVE = False: never asks
    assert "set USE_DRIVE = True" in capsys.readouterr().out


@pytest.mark.parametrize("where", ["local", "nbgrader"])
def test_mount_drive_does_nothing_outside_colab_or_under_nbgrader(tmp_path, monkeypatch, mounts, capsys, where):
    monkeypatch.setattr(checkpoints, "in_colab", lambda: where == "nbgrader")
    if where == "nbgrader":
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert mount_drive(True, tmp_path / "drive" / "MyDrive") is None
    assert mounts == [] and capsys.readouterr().out == ""


def test_checkpoint_dir_prefers_drive_when_mounted(tmp_path, colab):
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


def test_surviving_checkpoints_keeps_the_newest_and_the_final_save():
    assert checkpoints.surviving_checkpoints(1000, 100, 3) == [800, 900, 1000]
    assert checkpoints.surviving_checkpoints(10, 3, 2) == [9, 10]  # the Trainer also saves when it stops at 10
    assert checkpoints.surviving_checkpoints(10, 3, None) == [3, 6, 9, 10]
    assert checkpoints.surviving_checkpoints(6, 2, 5) == [2, 4, 6]


def test_surviving_checkpoints_protects_the_best_and_the_last():
    rising = {2: 2.9, 4: 3.1, 6: 3.3}
    assert checkpoints.surviving_checkpoints(6, 2, 1, rising) == [2, 6]  # limit 1, yet two folders remain
    assert checkpoints.surviving_checkpoints(6, 2, 2, rising) == [2, 6]
    assert checkpoints.surviving_checkpoints(6, 2, 1, {2: 3.0, 4: 2.0, 6: 1.0}) == [6]  # best is last: one
    with pytest.raises(ValueError, match="save_total_limit"):
        checkpoints.surviving_checkpoints(6, 2, 0)
    with pytest.raises(ValueError, match="at least 1"):
        checkpoints.surviving_checkpoints(0, 2, 1)
