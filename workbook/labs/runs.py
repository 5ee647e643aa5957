"""Lab 1 training runs: where checkpoints and the evidence packet go (Drive when mounted), run names, resuming, the
facts that must survive a disconnect, the training log, the repository's commit and the packet download. The trainer
callbacks are in `workbook.labs.callbacks`, kept apart so that importing this module does not import transformers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbook.core.config import ROOT
from workbook.core.io import sha256_bytes, write_json
from workbook.core.runtime import in_colab
from workbook.topics.checkpoints import colab_session, persistent_root

OUTPUT_ENV = "LAB1_OUTPUT_ROOT"
RUN_INFO = "run_info.json"


def output_root() -> Path:
    """Where checkpoints and adapters live: $LAB1_OUTPUT_ROOT, else <persistent_root>/lab1, else labs/outputs."""
    if os.environ.get(OUTPUT_ENV):
        return Path(os.environ[OUTPUT_ENV])
    persistent = persistent_root()
    return persistent / "lab1" if persistent else ROOT / "labs" / "outputs"


def evidence_dir() -> Path:
    """Where the lab writes its packet: <persistent_root>/lab1/evidence (Drive), else labs/evidence in Colab, else
    evidence/ in the working folder (beside the notebook, as nbgrader expects)."""
    persistent = persistent_root()
    if persistent:
        return persistent / "lab1" / "evidence"
    return ROOT / "labs" / "evidence" if in_colab() else Path.cwd() / "evidence"


def _browser_download(path: Path) -> None:
    from google.colab import files  # type: ignore[import-not-found]

    files.download(str(path))


def download_packet(evidence: str | Path) -> Path | None:
    """In Colab, zip the evidence folder (as evidence/..., the later labs' sections included) and start a browser
    download of the zip; elsewhere, and under nbgrader, print where the packet is. Never raises: a failed download
    says where the files are instead."""
    folder = Path(evidence)
    if not colab_session():
        print(f"Your evidence packet is in {folder}")
        return None
    try:
        archive = Path(shutil.make_archive(str(folder.parent / "evidence_packet"), "zip", folder.parent, folder.name))
        _browser_download(archive)
    except Exception as error:  # no browser attached, a blocked pop-up, a full disk: the packet itself is fine
        print(
            f"The download did not start ({type(error).__name__}: {error}). The packet is in {folder}; "
            "download it from the Files panel."
        )
        return None
    print(f"Downloading {archive.name} ({archive.stat().st_size / 1e6:.1f} MB): keep it with your submission.")
    return archive


def run_name(model_id: str, settings: dict[str, Any]) -> str:
    """A folder name tied to the model and every setting: change a hyperparameter and you get a fresh run."""
    digest = sha256_bytes(json.dumps(settings, sort_keys=True, default=str).encode())[:10]
    return f"{model_id.split('/')[-1].lower()}-{digest}"


def latest_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete `checkpoint-N` folder in output_dir, or None (a fresh run)."""
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    return get_last_checkpoint(str(folder))


def run_info(output_dir: str | Path) -> dict[str, Any]:
    """The run's first start time and other facts that must survive a disconnect (stored beside the checkpoints)."""
    path = Path(output_dir) / RUN_INFO
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def update_run_info(output_dir: str | Path, **facts: Any) -> dict[str, Any]:
    """Add facts to run_info.json; keys already recorded keep their first value."""
    info = run_info(output_dir)
    for key, value in facts.items():
        info.setdefault(key, value)
    write_json(Path(output_dir) / RUN_INFO, info)
    return info


def training_log_rows(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trainer's own log entries, as written to training_log.jsonl (JSON-safe values only)."""
    return [
        {k: v for k, v in entry.items() if isinstance(v, (int, float, str, bool)) or v is None} for entry in log_history
    ]


def git_commit() -> str:
    """The course repository's commit, or 'unknown' outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
