"""The Lab 1 adapter registry: every saved LoRA adapter gets a version, a path and a sha256 (for rollback.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from workbook.core.io import now_iso, sha256_tree, write_json

REGISTRY = "versions.json"
SET_FIELDS = ("target_modules", "exclude_modules")  # sets in PEFT's config, written in hash order


def _canonical_config(folder: Path) -> None:
    """Rewrite adapter_config.json with PEFT's set-valued fields sorted: a new kernel writes them in another order,
    which would make identical weights hash as a new version."""
    path = folder / "adapter_config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in SET_FIELDS:
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def adapter_versions(output_root_dir: str | Path) -> list[dict[str, Any]]:
    """Every adapter version saved so far (oldest first)."""
    path = Path(output_root_dir) / "adapters" / REGISTRY
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def save_adapter(model: Any, output_root_dir: str | Path, run: str) -> dict[str, Any]:
    """Save the LoRA adapter as the next version under <output_root>/adapters/ unless an identical one exists.

    Returns the version record (version, path, sha256, created_at, run). The registry versions.json lists them all.
    """
    adapters = Path(output_root_dir) / "adapters"
    adapters.mkdir(parents=True, exist_ok=True)
    registry = adapter_versions(output_root_dir)
    staging = adapters / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    _canonical_config(staging)
    digest = sha256_tree(staging)
    for record in registry:
        if record["sha256"] == digest:
            shutil.rmtree(staging)
            return record
    version = f"v{len(registry) + 1}"
    target = adapters / version
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    record = {"version": version, "path": str(target), "sha256": digest, "created_at": now_iso(), "run": run}
    write_json(adapters / REGISTRY, [*registry, record])
    return record
