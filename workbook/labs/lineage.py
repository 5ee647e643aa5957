"""One running evidence packet across the labs: where each lab's section lives, the adapter a lab starts from, and the
hash link each lab's manifest makes to the previous lab's, so a grader can follow one model from SFT to DPO to GGUF.

Lab 1's packet is the evidence folder itself; Lab 2 writes `evidence/lab2/`, Lab 3 `evidence/lab3/`. Each later
manifest carries `previous = {"lab", "manifest_sha256"}` of the lab before it. Checkpoints and exported files go
under the Lab 1 output root (Drive when mounted), in a folder per lab.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbook.core.io import sha256_file, sha256_tree, write_json
from workbook.labs.runs import output_root

PREVIOUS = {"lab2": "lab1", "lab3": "lab2"}
NOTEBOOKS = {
    "lab1": "labs/lab1_qlora_sft.ipynb",
    "lab2": "labs/lab2_preference_alignment.ipynb",
    "lab3": "labs/lab3_ship_and_rollback.ipynb",
}


class MissingPreviousLab(FileNotFoundError):
    """The lab before this one has not run (or its packet is unreadable); the message says what to run."""


def section(evidence_root: str | Path, lab: str) -> Path:
    """The folder of one lab's packet: the evidence folder itself for Lab 1, `<evidence>/<lab>` after it."""
    root = Path(evidence_root)
    return root if lab == "lab1" else root / lab


def lab_outputs(lab: str) -> Path:
    """Where a later lab keeps its checkpoints, adapters and exported files: `<Lab 1 output root>/<lab>`."""
    return output_root() / lab


def label(lab: str) -> str:
    return f"Lab {lab.removeprefix('lab')}"


def run_hint(lab: str) -> str:
    return f"run {NOTEBOOKS[lab]} (headless: `make {lab} FAST=1` from the repository root)"


def previous_manifest(evidence_root: str | Path, lab: str) -> tuple[dict[str, Any], Path]:
    """The previous lab's manifest and its path; MissingPreviousLab, with what to run, when it is absent or broken."""
    before = PREVIOUS[lab]
    path = section(evidence_root, before) / "manifest.json"
    if not path.is_file():
        raise MissingPreviousLab(
            f"{label(lab)} starts from your {label(before)} packet, and {path} does not exist: "
            f"{run_hint(before)} first, then run this notebook again. Nothing was changed."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MissingPreviousLab(
            f"{path} cannot be read ({type(error).__name__}: {error}): {run_hint(before)} again. Nothing was changed."
        ) from None
    if not isinstance(manifest, dict):
        raise MissingPreviousLab(f"{path} does not hold a JSON object: {run_hint(before)} again.")
    return manifest, path


def chain_link(evidence_root: str | Path, lab: str) -> dict[str, str]:
    """{"lab", "manifest_sha256"} of the previous lab's manifest, the link this lab's manifest records."""
    _, path = previous_manifest(evidence_root, lab)
    return {"lab": PREVIOUS[lab], "manifest_sha256": sha256_file(path)}


def latest_adapter(manifest: dict[str, Any], lab: str) -> dict[str, Any]:
    """The newest adapter a manifest lists, after checking that its folder still hashes to the recorded sha256."""
    adapters = manifest.get("adapters") or []
    if not adapters or not isinstance(adapters[-1], dict) or "path" not in adapters[-1]:
        raise MissingPreviousLab(f"The {label(lab)} manifest lists no adapter: {run_hint(lab)} to the end.")
    adapter = adapters[-1]
    folder = Path(adapter["path"])
    if not folder.is_dir():
        raise MissingPreviousLab(
            f"The {label(lab)} adapter {adapter.get('version')} is not at {folder} (a new Colab VM without Drive, or a "
            f"moved folder): {run_hint(lab)} again; with the same settings it retrains or resumes."
        )
    digest = sha256_tree(folder)
    if digest != adapter.get("sha256"):
        raise MissingPreviousLab(
            f"The {label(lab)} adapter at {folder} no longer matches the sha256 its manifest recorded "
            f"({digest[:12]}... vs {str(adapter.get('sha256'))[:12]}...): it changed after {label(lab)} ended. "
            f"Rather than continue from weights nobody can trace, {run_hint(lab)} again."
        )
    return adapter


def write_chained_manifest(
    evidence_root: str | Path, lab: str, fields: dict[str, Any], files: Sequence[str]
) -> Path:
    """`<section>/manifest.json`: the fields, the link to the previous lab, and the sha256 of each named packet file
    (written last, so a later edit shows up as a mismatch)."""
    folder = section(evidence_root, lab)
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}: run the cells that write them first.")
    manifest = {
        "lab": lab,
        **fields,
        "previous": chain_link(evidence_root, lab),
        "files": {name: sha256_file(folder / name) for name in files},
    }
    return write_json(folder / "manifest.json", manifest)
