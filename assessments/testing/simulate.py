"""Synthetic Lab 1 evidence packets for the tests and the benchmark: honest ones and the usual ways they go wrong.

`honest_packet` writes a complete, consistent packet with the lab's own writers (workbook.evidence.writers), from the
shipped compliance data, without a model: the "tuned" answers are the references with a few words changed, the
baseline answers are generic, and the failure analysis carries the student's own explanations. Each student's
timestamps and wall times differ, as two real runs would.

`SCENARIOS` maps a name to a function that damages a packet in place, and `EXPECTED_LOSSES` says which gates
that must cost (and nothing else).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from assessments.integrity import manifest_student
from workbook.core.io import read_jsonl, sha256_bytes, sha256_file, write_json, write_jsonl
from workbook.evidence.results import add_forgetting_guard, evaluation_results, regression_results
from workbook.evidence.schema import AUTO_MARKER, HYPERPARAMETER_KEYS
from workbook.evidence.writers import save_loss_curve, write_failure_analysis, write_manifest, write_rollback
from workbook.labs.data import COMPLIANCE_DIR, dataset_fingerprint

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def _clock(student: str) -> Callable[[float], str]:
    """A different run per student: its own start and its own pace (real runs never share their intervals)."""
    key = sum(ord(ch) * (i + 1) for i, ch in enumerate(student))
    offset, pace = key % 86_400, 1 + (key % 997) / 10_000
    return lambda seconds: (T0 + timedelta(seconds=offset + seconds * pace)).isoformat()


def _tuned_answer(reference: str, index: int) -> str:
    words = reference.split()
    if index % 3 == 0 and len(words) > 4:  # some answers lose their tail: realistic partial recall
        return " ".join(words[: len(words) // 2])
    return reference


def honest_packet(folder: Path, student: str, locked_test: Path | None = None, steps: int = 10) -> Path:
    """Write a complete packet for `student` into `folder` (an `evidence/` directory)."""
    folder.mkdir(parents=True, exist_ok=True)
    at = _clock(student)
    locked_test = locked_test or COMPLIANCE_DIR / "locked_test.jsonl"
    test = read_jsonl(locked_test)
    general = read_jsonl(COMPLIANCE_DIR / "general.jsonl")
    refusal = read_jsonl(COMPLIANCE_DIR / "refusal.jsonl")
    locked_sha = sha256_file(locked_test)
    write_json(folder / "environment.json", {
        "platform": "local", "python": "3.11.7", "device": "cpu", "gpu": {"available": False},
        "compute_dtype": "float32", "fast": True, "cpu_count": 2, "seed": 0,
        "packages": {"torch": "2.13.0", "transformers": "5.17.0", "peft": "0.21.2", "trl": "1.16.0",
                     "bitsandbytes": "0.50.2"},
    })
    (folder / "data_card.md").write_text("# Data card\n\nCompliance Q&A, written for this project (CC-BY-4.0).\n")
    write_json(folder / "data_card.json", dataset_fingerprint())
    baseline = [{"id": r["id"], "question": r["question"], "answer": "It depends on the regulation.",
                 "locked_test_sha256": locked_sha, "timestamp": at(i)} for i, r in enumerate(test)]
    write_jsonl(folder / "baseline.jsonl", baseline)
    log = [{"loss": round(3.0 - 0.12 * s, 4), "epoch": s / steps, "step": s, "logged_at": at(100 + s)}
           for s in range(1, steps + 1)]
    log.append({"eval_loss": 2.4, "epoch": 1.0, "step": steps, "logged_at": at(101 + steps)})
    write_jsonl(folder / "training_log.jsonl", log)
    save_loss_curve(log, folder / "loss_curve.png")
    tuned = [{"id": r["id"], "answer": _tuned_answer(r["answer"], i)} for i, r in enumerate(test)]
    results = evaluation_results(test, baseline, tuned, locked_sha)
    results["regression"] = regression_results(
        general,
        {label: [{"id": r["id"], "answer": r["answer"]} for r in general] for label in ("baseline", "tuned")},
        refusal,
        {label: [{"id": r["id"], "answer": "I can't help with that." if r["expect"] == "refuse" else "Sure: ..."}
                 for r in refusal] for label in ("baseline", "tuned")},
    )
    add_forgetting_guard(results)
    write_json(folder / "eval_results.json", results)
    write_failure_analysis(results["per_example"], folder / "failure_analysis.md")
    _explain_cases(folder / "failure_analysis.md", student)
    adapter = {"version": "v1", "path": "labs/outputs/adapters/v1", "created_at": at(300),
               "sha256": sha256_bytes(f"adapter of {student}".encode())}
    write_rollback(folder / "rollback.md", MODEL_ID, None, [adapter])
    fingerprint = dataset_fingerprint()
    write_manifest(folder, {
        "dataset": {k: fingerprint[k] for k in ("name", "version", "sha256")} | {"locked_test_sha256": locked_sha},
        "model": {"id": MODEL_ID, "revision": None},
        "hyperparameters": {key: 1 for key in HYPERPARAMETER_KEYS},
        "seed": 0,
        "wall_times": {"baseline_s": 40.0, "training_s": 95.0, "evaluation_s": 41.0, "training_started_at": at(60)},
        "git_commit": "0123abcd",
        "student_id": student,
        "adapters": [adapter],
    })
    return folder


OPENINGS = ("My reading ({student}):", "What I see ({student}) is that", "As far as I can tell ({student}),",
            "Looking at this case ({student}),", "I think ({student})")
OBSERVATIONS = ("the tuned model kept the structure of a similar training answer but dropped a fact",
                "the answer copies the template of a neighbouring article and loses the deadline",
                "it names the right regulation yet forgets which authority must be told",
                "the first sentence is right, then it drifts into a generic disclaimer",
                "the model merges two obligations from different training rows into one")
CAUSES = ("probably because the question looks like another one in the training set.",
          "which suggests the key fact appeared only once in training.",
          "so more epochs or a larger rank might help, though I did not test that.",
          "and the reference itself is long, so the ROUGE-L score punishes the short answer.",
          "likely since greedy decoding stops after the most frequent phrasing.")


def _explain_cases(path: Path, student: str) -> None:
    """Each case gets the student's own explanation: their phrasing differs from every other student's."""
    text = path.read_text(encoding="utf-8")
    case = 0
    while AUTO_MARKER + "\n" in text:
        key = int.from_bytes(hashlib.sha256(f"{student}/{case}".encode()).digest()[:8], "big")
        parts = [bank[(key >> (8 * n)) % len(bank)] for n, bank in enumerate((OPENINGS, OBSERVATIONS, CAUSES))]
        own = f"{parts[0].format(student=student)} {parts[1]}, {parts[2]}"
        text = text.replace(AUTO_MARKER + "\n", own + "\n", 1)
        case += 1
    path.write_text(text, encoding="utf-8")


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def refresh_manifest(folder: Path) -> None:
    """Re-hash the packet, as a student re-running the notebook's last cell would."""
    manifest = _manifest(folder)
    for key in ("files", "loss_curve"):
        manifest.pop(key, None)
    write_manifest(folder, manifest)


# ---------------------------------------------------------------------------------------- ways a packet goes wrong


def missing_files(folder: Path) -> None:
    (folder / "rollback.md").unlink()
    refresh_manifest(folder)


def malformed_json(folder: Path) -> None:
    path = folder / "environment.json"
    path.write_text(path.read_text()[:40])
    refresh_manifest(folder)


def baseline_after_training(folder: Path) -> None:
    started = datetime.fromisoformat(_manifest(folder)["wall_times"]["training_started_at"])
    rows = read_jsonl(folder / "baseline.jsonl")
    for i, row in enumerate(rows):
        row["timestamp"] = (started + timedelta(minutes=30, seconds=i)).isoformat()
    write_jsonl(folder / "baseline.jsonl", rows)
    refresh_manifest(folder)


def tampered_locked_set(folder: Path) -> Path:
    """The student edits their copy of the locked set (one reference made easier) and reruns everything on it."""
    student = manifest_student(folder)
    rows = read_jsonl(COMPLIANCE_DIR / "locked_test.jsonl")
    rows[0]["answer"] = rows[0]["key_facts"][0]
    tampered = folder.parent / "data" / "compliance" / "locked_test.jsonl"
    tampered.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(tampered, rows)
    shutil.rmtree(folder)
    honest_packet(folder, student, locked_test=tampered)
    return tampered


def few_failure_cases(folder: Path) -> None:
    path = folder / "failure_analysis.md"
    text = path.read_text()
    path.write_text(text[: text.index("## Case 3")])
    refresh_manifest(folder)


def loss_curve_contradicts_log(folder: Path) -> None:
    """The PNG is redrawn from a prettier log than the one the trainer wrote."""
    rows = read_jsonl(folder / "training_log.jsonl")
    pretty = [dict(r, loss=r["loss"] - 0.5) if "loss" in r else r for r in rows]
    save_loss_curve(pretty, folder / "loss_curve.png")
    manifest = _manifest(folder)
    manifest["files"]["loss_curve.png"] = sha256_file(folder / "loss_curve.png")
    write_json(folder / "manifest.json", manifest)


def copied_from(source_packet: Path) -> Callable[[Path], None]:
    """Replace a packet with another student's, byte for byte."""
    def copy(folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(source_packet, folder)
    return copy


SCENARIOS: dict[str, Callable[[Path], object]] = {
    "missing_files": missing_files,
    "malformed_json": malformed_json,
    "baseline_after_training": baseline_after_training,
    "tampered_locked_set": tampered_locked_set,
    "few_failure_cases": few_failure_cases,
    "loss_curve_contradicts_log": loss_curve_contradicts_log,
}

# Which gates each scenario must cost. A missing file also fails reproducibility, because the manifest must
# account for every packet file; a locked set the student changed breaks every hash comparison with the
# instructor's copy (baseline, evaluation and the manifest's dataset record).
EXPECTED_LOSSES: dict[str, set[str]] = {
    "missing_files": {"rollback", "reproducibility"},
    "malformed_json": {"environment"},
    "baseline_after_training": {"baseline"},
    "tampered_locked_set": {"baseline", "evaluation", "reproducibility"},
    "few_failure_cases": {"failure_analysis"},
    "loss_curve_contradicts_log": {"reproducibility"},
    "copied_packet": {"reproducibility"},
}
