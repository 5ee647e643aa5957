"""The evidence tests' packet: complete and consistent, written with the same writers the notebook uses."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from workbook.core.io import read_jsonl, sha256_file, sha256_tree, write_json, write_jsonl
from workbook.evidence.results import add_forgetting_guard, evaluation_results, regression_results
from workbook.evidence.schema import HYPERPARAMETER_KEYS
from workbook.evidence.writers import save_loss_curve, write_failure_analysis, write_manifest, write_rollback
from workbook.labs.data import COMPLIANCE_DIR, dataset_fingerprint

LOCKED = COMPLIANCE_DIR / "locked_test.jsonl"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def _make_packet(folder: Path) -> Path:
    """A complete, consistent packet built with the same writers the notebook uses (no model needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    test = read_jsonl(LOCKED)
    general = read_jsonl(COMPLIANCE_DIR / "general.jsonl")
    refusal = read_jsonl(COMPLIANCE_DIR / "refusal.jsonl")
    locked_sha = sha256_file(LOCKED)
    write_json(
        folder / "environment.json",
        {
            "platform": "local",
            "python": "3.11.9",
            "device": "cpu",
            "gpu": {"available": False},
            "compute_dtype": "float32",
            "fast": True,
            "cpu_count": 2,
            "packages": {
                "torch": "2.13.0",
                "transformers": "5.17.0",
                "peft": "0.21.2",
                "trl": "1.16.0",
                "bitsandbytes": "0.50.2",
            },
            "seed": 0,
        },
    )
    (folder / "data_card.md").write_text("# Data card\n")
    write_json(folder / "data_card.json", dataset_fingerprint())
    baseline = [
        {
            "id": r["id"],
            "question": r["question"],
            "answer": "I am not sure.",
            "locked_test_sha256": locked_sha,
            "timestamp": _iso(i),
        }
        for i, r in enumerate(test)
    ]
    write_jsonl(folder / "baseline.jsonl", baseline)
    log = [
        {"loss": 3.0 - 0.1 * step, "epoch": step / 10, "step": step, "logged_at": _iso(100 + step)}
        for step in range(1, 11)
    ]
    log.append({"eval_loss": 2.5, "epoch": 1.0, "step": 10, "logged_at": _iso(111)})
    write_jsonl(folder / "training_log.jsonl", log)
    save_loss_curve(log, folder / "loss_curve.png")
    tuned = [{"id": r["id"], "answer": r["answer"]} for r in test]
    results = evaluation_results(test, baseline, tuned, locked_sha)
    results["regression"] = regression_results(
        general,
        {
            "baseline": [{"id": r["id"], "answer": r["answer"]} for r in general],
            "tuned": [{"id": r["id"], "answer": r["answer"]} for r in general],
        },
        refusal,
        {
            "baseline": [{"id": r["id"], "answer": "I can't help with that."} for r in refusal],
            "tuned": [{"id": r["id"], "answer": "Sure."} for r in refusal],
        },
    )
    add_forgetting_guard(results)
    write_json(folder / "eval_results.json", results)
    write_failure_analysis(results["per_example"], folder / "failure_analysis.md")
    adapter = folder.parent / "adapters" / "v1"
    adapter.mkdir(parents=True, exist_ok=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"weights")
    record = {"version": "v1", "path": str(adapter), "sha256": sha256_tree(adapter), "created_at": _iso(200)}
    write_rollback(folder / "rollback.md", "HuggingFaceTB/SmolLM2-135M-Instruct", None, [record])
    fingerprint = dataset_fingerprint()
    write_manifest(
        folder,
        {
            "dataset": {k: fingerprint[k] for k in ("name", "version", "sha256", "locked_test_sha256")},
            "model": {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "revision": None},
            "hyperparameters": {key: 1 for key in HYPERPARAMETER_KEYS},
            "seed": 0,
            "wall_times": {"baseline_s": 1.0, "training_s": 2.0, "evaluation_s": 3.0, "training_started_at": _iso(50)},
            "git_commit": "abc123",
            "student_id": "student-1",
            "adapters": [record],
        },
    )
    return folder


@pytest.fixture
def at():
    """The packet's clock: ISO time `seconds` after its first baseline answer."""
    return _iso


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return _make_packet(tmp_path_factory.mktemp("pristine") / "evidence")


@pytest.fixture
def packet(pristine, tmp_path):
    """A fresh copy of the good packet (its adapter folder too, so tests may damage both)."""
    shutil.copytree(pristine.parent / "adapters", tmp_path / "adapters")
    folder = shutil.copytree(pristine, tmp_path / "evidence")
    manifest = json.loads((folder / "manifest.json").read_text())
    for record in manifest["adapters"]:
        record["path"] = str(tmp_path / "adapters" / Path(record["path"]).name)
    write_json(folder / "manifest.json", manifest)
    return folder
