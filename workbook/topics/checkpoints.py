"""Checkpoint folders: where to put them (Drive on Colab), what is inside, and a safe look at why pickle is risky.

`persistent_root()` is the one place that decides where work survives a Colab disconnect (the course's folder on
Google Drive); `checkpoint_dir`, Lab 1's runs and evidence and chapter 03's picks all go there when it is set.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbook.core.config import ROOT
from workbook.core.runtime import in_colab

DRIVE_MOUNT = Path("/content/drive")
DRIVE_ROOT = DRIVE_MOUNT / "MyDrive"
COURSE_FOLDER = "post-training-workbook"
LOCAL_ROOT = ROOT / "build" / "checkpoints"


def colab_session() -> bool:
    """True in Colab unless nbgrader is executing the notebook: the only place Drive and downloads are used."""
    return in_colab() and os.environ.get("NBGRADER_EXECUTION") is None


def persistent_root(drive_root: Path | None = None) -> Path | None:
    """The course's folder on Google Drive (MyDrive/post-training-workbook) when Drive is mounted in Colab, else None.

    None means work stays where it is made (locally: the repository; in Colab: the VM, lost when it is recycled).
    drive_root: where Drive's MyDrive appears (default DRIVE_ROOT).
    """
    drive_root = drive_root or DRIVE_ROOT
    return drive_root / COURSE_FOLDER if colab_session() and drive_root.is_dir() else None


def _mount(mountpoint: Path) -> None:
    from google.colab import drive  # type: ignore[import-not-found]

    drive.mount(str(mountpoint))


def mount_drive(use_drive: bool, drive_root: Path | None = None) -> Path | None:
    """In Colab, mount Google Drive if use_drive is True; return persistent_root() and say where work is kept.

    A declined or failed mount is reported, not raised. Outside Colab and under nbgrader it does nothing.
    """
    if not colab_session():
        return None
    drive_root = drive_root or DRIVE_ROOT
    if use_drive and not drive_root.is_dir():
        try:
            _mount(drive_root.parent)
        except Exception as error:  # declined in the browser, timed out, or no Drive for this account
            print(f"Google Drive was not mounted ({type(error).__name__}: {error}).")
    root = persistent_root(drive_root)
    if root is None:
        print(
            "Your work stays on this Colab VM and is lost if the runtime disconnects or is recycled"
            + (": set USE_DRIVE = True and run this cell again to keep it on Google Drive." if not use_drive else ".")
        )
        return None
    root.mkdir(parents=True, exist_ok=True)
    print(f"Runs, picks and evidence are kept on Google Drive in {root}")
    return root


def checkpoint_dir(
    run_name: str, fresh: bool = False, drive_root: Path | None = None, local_root: Path = LOCAL_ROOT
) -> Path:
    """Where a run's checkpoints go: <persistent_root>/checkpoints when Drive is mounted in Colab, else local_root.

    On Colab, mount Drive first (`mount_drive(True)`) so that a disconnected runtime does not take the checkpoints
    with it. fresh=True empties this run's own folder first (a demo run that must not pick up checkpoints left by
    an earlier execution); nothing outside it is touched.
    """
    if not run_name or any(part in {"", ".", ".."} for part in Path(run_name).parts) or Path(run_name).is_absolute():
        raise ValueError(f"run_name {run_name!r} must be a plain relative folder name such as 'ch07-run'.")
    persistent = persistent_root(drive_root)
    root = persistent / "checkpoints" if persistent else local_root
    path = root / run_name
    if fresh and path.is_dir():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class FileEntry:
    name: str
    bytes: int
    kind: str


def _kind(name: str) -> str:
    if name.endswith(".safetensors"):
        return "tensors (safetensors: no code)"
    if name.endswith((".pt", ".pth", ".bin", ".pkl")):
        return "pickle (torch.save)"
    if name.endswith(".json") or name.endswith(".jinja"):
        return "text (json/template)"
    return "other"


def list_checkpoint(folder: str | Path) -> list[FileEntry]:
    """Every file in a checkpoint folder with its size and what kind of file it is."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: pass a checkpoint folder such as output_dir/checkpoint-4.")
    return [
        FileEntry(p.relative_to(folder).as_posix(), p.stat().st_size, _kind(p.name))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def format_listing(entries: list[FileEntry]) -> str:
    """The listing as aligned text with a total."""
    width = max((len(e.name) for e in entries), default=4)
    lines = [f"{e.name:<{width}}  {e.bytes / 1e6:>9.3f} MB  {e.kind}" for e in entries]
    lines.append(f"{'total':<{width}}  {sum(e.bytes for e in entries) / 1e6:>9.3f} MB")
    return "\n".join(lines)


def checkpoints_in(output_dir: str | Path) -> list[Path]:
    """The checkpoint-N folders of a run, in step order."""
    folders = [p for p in Path(output_dir).glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(folders, key=lambda p: int(p.name.split("-")[-1]))


def surviving_checkpoints(
    max_steps: int, save_steps: int, save_total_limit: int | None = None, eval_losses: dict[int, float] | None = None
) -> list[int]:
    """The steps whose checkpoint-N folders a Trainer run leaves on disk (transformers' own rotation rule).

    A checkpoint is saved every `save_steps` steps and at `max_steps`. After each save the oldest folders are
    deleted until `save_total_limit` remain, but never the most recent one (to resume from) nor, when
    `eval_losses` ({step: eval loss}, lower is better, as with load_best_model_at_end) is given, the best one so
    far: with save_total_limit=1 that can leave two. None keeps everything.
    """
    if max_steps < 1 or save_steps < 1:
        raise ValueError(f"max_steps and save_steps must be at least 1; got {max_steps} and {save_steps}.")
    if save_total_limit is not None and save_total_limit < 1:
        raise ValueError(f"save_total_limit must be at least 1 (or None to keep all); got {save_total_limit}.")
    saves = list(range(save_steps, max_steps + 1, save_steps))
    if saves[-1:] != [max_steps]:
        saves.append(max_steps)  # the Trainer also saves when training stops
    kept: list[int] = []
    best, best_loss = None, float("inf")
    for step in saves:
        if eval_losses and step in eval_losses and eval_losses[step] < best_loss:
            best, best_loss = step, eval_losses[step]
        kept.append(step)
        if save_total_limit is None:
            continue
        protected = {step} | ({best} if best is not None else set())
        for old in list(kept):
            if len(kept) <= max(save_total_limit, len(protected)):
                break
            if old not in protected:
                kept.remove(old)
    return kept


class HarmlessPayload:
    """A demonstration object: unpickling it calls print(...). A malicious file would call os.system instead."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (print, ("pickle ran code! (this could have been any command)",))


class SimulatedCrash(RuntimeError):
    """Raised by CrashAfterSave to imitate a run that dies (a lost Colab runtime, an out-of-memory kill)."""


def crash_after_save(step: int) -> Any:
    """A TrainerCallback that raises SimulatedCrash right after the checkpoint of `step` is written."""
    from transformers import TrainerCallback

    if step < 1:
        raise ValueError(f"step must be at least 1; got {step}.")

    class CrashAfterSave(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step >= step:
                raise SimulatedCrash(f"simulated crash after saving step {state.global_step}")

    return CrashAfterSave()
