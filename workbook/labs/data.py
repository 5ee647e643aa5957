"""The Lab 1 compliance dataset: its splits (checked against their recorded hashes), its fingerprint, and the
prompt/completion format TRL trains on. Importing this module imports no transformers, torch or datasets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbook.core.config import DATA_DIR
from workbook.core.io import read_jsonl, sha256_file

COMPLIANCE_DIR = DATA_DIR / "compliance"
SPLITS = ("train", "validation", "locked_test", "general", "refusal")


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def load_compliance(folder: Path = COMPLIANCE_DIR) -> dict[str, list[dict[str, Any]]]:
    """Every split of the compliance dataset, checked against its manifest's sha256 first."""
    manifest = _manifest(folder)
    changed = [n for n, e in manifest["files"].items() if sha256_file(folder / n) != e["sha256"]]
    if changed:
        raise ValueError(
            f"{', '.join(changed)} in {folder} no longer match manifest.json. The locked test set must not change: "
            "restore the files with `git checkout data/compliance`."
        )
    return {name: read_jsonl(folder / f"{name}.jsonl") for name in SPLITS}


def dataset_fingerprint(folder: Path = COMPLIANCE_DIR) -> dict[str, Any]:
    """Name, version and hashes that identify the dataset in the evidence packet."""
    manifest = _manifest(folder)
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
