"""Lab 1 plumbing: the compliance data, where checkpoints go, resuming, trainer callbacks and adapter versions.

The notebook keeps the BitsAndBytesConfig / LoraConfig / SFTConfig / SFTTrainer calls visible; this module holds
what students need not retype: file handling, run naming, and the callbacks that stamp and interrupt training.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbook.core.config import DATA_DIR, ROOT
from workbook.core.io import read_jsonl, sha256_file
from workbook.eval.metrics import now_iso

COMPLIANCE_DIR = DATA_DIR / "compliance"
SPLITS = ("train", "validation", "locked_test", "general", "refusal")
DRIVE_ROOT = Path("/content/drive/MyDrive")
OUTPUT_ENV = "LAB1_OUTPUT_ROOT"
RUN_INFO = "run_info.json"
BASELINE_COPY = "baseline.jsonl"
REGISTRY = "versions.json"


def load_compliance(folder: Path = COMPLIANCE_DIR) -> dict[str, list[dict[str, Any]]]:
    """Every split of the compliance dataset, checked against its manifest's sha256 first."""
    manifest = json.loads((folder / "manifest.json").read_text())
    changed = [n for n, e in manifest["files"].items() if sha256_file(folder / n) != e["sha256"]]
    if changed:
        raise ValueError(
            f"{', '.join(changed)} in {folder} no longer match manifest.json. The locked test set must not change: "
            "restore the files with `git checkout data/compliance`."
        )
    return {name: read_jsonl(folder / f"{name}.jsonl") for name in SPLITS}


def dataset_fingerprint(folder: Path = COMPLIANCE_DIR) -> dict[str, Any]:
    """Name, version and hashes that identify the dataset in the evidence packet."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return {
        "name": manifest["dataset"],
        "version": manifest["version"],
        "sha256": sha256_file(folder / "manifest.json"),  # the manifest pins every split's hash
        "locked_test_sha256": manifest["locked_test"]["sha256"],
        "files": manifest["files"],
    }


def prompt_completion(rows: Sequence[dict[str, Any]]) -> Any:
    """A `datasets.Dataset` in TRL's conversational prompt/completion format (loss on the answer only)."""
    from datasets import Dataset

    return Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": row["question"]}],
                "completion": [{"role": "assistant", "content": row["answer"]}],
            }
            for row in rows
        ]
    )


def drive_mounted() -> bool:
    """True in Colab after `drive.mount('/content/drive')`."""
    return DRIVE_ROOT.is_dir()


def output_root() -> Path:
    """Where checkpoints and adapters live: $LAB1_OUTPUT_ROOT, else Google Drive when mounted, else labs/outputs."""
    if os.environ.get(OUTPUT_ENV):
        return Path(os.environ[OUTPUT_ENV])
    if drive_mounted():
        return DRIVE_ROOT / "post-training-workbook" / "lab1"
    return ROOT / "labs" / "outputs"


def run_name(model_id: str, settings: dict[str, Any]) -> str:
    """A folder name tied to the model and every setting: change a hyperparameter and you get a fresh run."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:10]
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
    return json.loads(path.read_text()) if path.is_file() else {}


def update_run_info(output_dir: str | Path, **facts: Any) -> dict[str, Any]:
    """Add facts to run_info.json; keys already recorded keep their first value."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    info = run_info(folder)
    for key, value in facts.items():
        info.setdefault(key, value)
    (folder / RUN_INFO).write_text(json.dumps(info, indent=2, default=str))
    return info


@functools.cache
def _callbacks() -> dict[str, type]:
    """The trainer callbacks, built on first use so that importing this module does not import transformers."""
    from transformers import TrainerCallback

    class StampLogs(TrainerCallback):
        """Stamps each trainer log entry with `logged_at` (UTC ISO time) and records when training first started.

        The stamps live in `state.log_history`, so they are saved in every checkpoint and survive a resume.
        """

        def __init__(self, output_dir: str | Path):
            self.output_dir = Path(output_dir)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            update_run_info(self.output_dir, training_started_at=now_iso())

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if state.log_history and "logged_at" not in state.log_history[-1]:
                state.log_history[-1]["logged_at"] = now_iso()

    class InterruptAfter(TrainerCallback):
        """Raises KeyboardInterrupt after `steps` optimizer steps: a stand-in for a Colab disconnect (tests, demos)."""

        def __init__(self, steps: int):
            self.steps = steps

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step >= self.steps:
                raise KeyboardInterrupt(f"simulated disconnect after step {state.global_step}")

    return {"StampLogs": StampLogs, "InterruptAfter": InterruptAfter}


def __getattr__(name: str) -> Any:
    """`workbook.labs.lab1.StampLogs` and `workbook.labs.lab1.InterruptAfter` (see `_callbacks`)."""
    if name in ("StampLogs", "InterruptAfter"):
        return _callbacks()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def training_log_rows(log_history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trainer's own log entries, as written to training_log.jsonl (JSON-safe values only)."""
    safe = []
    for entry in log_history:
        safe.append({k: v for k, v in entry.items() if isinstance(v, (int, float, str, bool)) or v is None})
    return safe


def save_adapter(model: Any, output_root_dir: str | Path, run: str) -> dict[str, Any]:
    """Save the LoRA adapter as the next version under <output_root>/adapters/ unless an identical one exists.

    Returns the version record (version, path, sha256, created_at, run). The registry versions.json lists them all.
    """
    from workbook.evidence import sha256_path

    adapters = Path(output_root_dir) / "adapters"
    adapters.mkdir(parents=True, exist_ok=True)
    registry = adapter_versions(output_root_dir)
    staging = adapters / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    digest = sha256_path(staging)
    for record in registry:
        if record["sha256"] == digest:
            shutil.rmtree(staging)
            return record
    version = f"v{len(registry) + 1}"
    target = adapters / version
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    record = {"version": version, "path": str(target), "sha256": digest, "created_at": now_iso(), "run": run}
    (adapters / REGISTRY).write_text(json.dumps([*registry, record], indent=2))
    return record


def adapter_versions(output_root_dir: str | Path) -> list[dict[str, Any]]:
    """Every adapter version saved so far (oldest first)."""
    path = Path(output_root_dir) / "adapters" / REGISTRY
    return json.loads(path.read_text()) if path.is_file() else []


def git_commit() -> str:
    """The course repository's commit, or 'unknown' outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


QUIZ = {
    "q1": ("b", "a timestamped baseline from the same model is the only proof of the 'before' numbers."),
    "q2": ("a", "TRL casts LoRA weights of a quantized model to bf16; the fp16 grad scaler cannot unscale bf16."),
    "q3": ("b", "ROUGE-L rewards shared wording, so '30 hours' vs '72 hours' still scores high; key facts catch it."),
    "q4": ("b", "SFT on a small set teaches the facts it saw and the answer style; it does not add unseen knowledge."),
}


def check_answers(answers: dict[str, str | None]) -> int:
    """Print correct/incorrect and why for each quiz answer; returns how many are correct."""
    correct = 0
    for key, (expected, why) in QUIZ.items():
        given = (answers.get(key) or "").strip().lower()
        if not given:
            print(f"{key}: not answered yet - set it to a, b or c.")
        elif given == expected:
            correct += 1
            print(f"{key}: correct - {why}")
        else:
            print(f"{key}: incorrect ({given}); the answer is {expected}: {why}")
    print(f"{correct}/{len(QUIZ)} correct")
    return correct
