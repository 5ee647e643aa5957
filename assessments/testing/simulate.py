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
import math
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from assessments.integrity import manifest_student
from workbook.core.io import read_jsonl, sha256_bytes, sha256_file, write_json, write_jsonl
from workbook.evidence.results import add_forgetting_guard, evaluation_results, regression_results
from workbook.evidence.schema import AUTO_MARKER
from workbook.evidence.writers import save_loss_curve, write_failure_analysis, write_manifest, write_rollback
from workbook.labs.data import COMPLIANCE_DIR, dataset_fingerprint

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# What Lab 1's manifest records of the model and the recipe (a FAST CPU run), as later labs read it.
LAB1_MODEL = {"id": MODEL_ID, "revision": None, "requested_id": MODEL_ID, "library": "transformers+peft+trl",
              "quantization": {"summary": "nf4 + double quant (bitsandbytes 4-bit), compute float32"}}
LAB1_HYPERPARAMETERS = {
    "model_id": MODEL_ID, "fast": True, "seed": 0, "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.05,
    "target_modules": ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"],
    "learning_rate": 0.0005, "num_train_epochs": 4, "max_steps": 6, "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1, "max_length": 128, "lr_scheduler_type": "cosine", "warmup_steps": 1,
    "optim": "adamw_torch", "quantization": LAB1_MODEL["quantization"]["summary"], "compute_dtype": "float32",
    "max_new_tokens": 24, "generation_batch_size": 48,
}


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
    fingerprint = dataset_fingerprint()
    counts = {Path(name).stem: info["n"] for name, info in fingerprint["files"].items()}
    write_json(folder / "data_card.json", {**fingerprint, "counts": counts})
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
    write_manifest(folder, {
        "dataset": {k: fingerprint[k] for k in ("name", "version", "sha256")} | {"locked_test_sha256": locked_sha},
        "model": LAB1_MODEL,
        "hyperparameters": LAB1_HYPERPARAMETERS,
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


# ---------------------------------------------------------------------------------------------- Labs 2 and 3
# Each later lab's section is written on top of the Lab 1 packet in the same evidence folder, with the labs' own
# record builders and workbook.labs.lineage.write_chained_manifest, so the hash chain is the real one.

PACKAGES_LAB3 = {"llama_cpp_python": "0.3.16"}
GGUF_SIZES = {"F16": 271_000_000, "Q8_0": 145_000_000, "Q4_K_M": 105_000_000}


def _score_set(student: str, name: str, n: int, spread: float = 1.0) -> list[float]:
    """n deterministic per-student numbers in [0, spread) (rewards, log-prob margins)."""
    return [spread * (int.from_bytes(hashlib.sha256(f"{student}/{name}/{i}".encode()).digest()[:4], "big") / 2**32)
            for i in range(n)]


def _lab2_answers(test: list[dict]) -> tuple[list[dict], list[dict]]:
    """(SFT answers, DPO answers) on the locked test: the Lab 1 tuned answers, and DPO recovering some tails."""
    sft = [{"id": r["id"], "answer": _tuned_answer(r["answer"], i)} for i, r in enumerate(test)]
    dpo = [{"id": r["id"], "answer": r["answer"] if i % 6 == 0 else _tuned_answer(r["answer"], i)}
           for i, r in enumerate(test)]
    return sft, dpo


def _chained(evidence_root: Path, lab: str, fields: dict) -> Path:
    from workbook.evidence.schema import LAB_FILES
    from workbook.labs.lineage import write_chained_manifest

    files = [name for name in LAB_FILES[lab] if name != "manifest.json"]
    return write_chained_manifest(evidence_root, lab, fields, files)


def refresh_section(folder: Path, card: bool = True) -> None:
    """Re-write a Lab 2 or Lab 3 section's manifest (files table and link), as re-running its last cell would; Lab 3's
    model card is regenerated first (unless card=False), as its cell does."""
    from workbook.labs.shipping import write_model_card

    manifest = _manifest(folder)
    if manifest["lab"] == "lab3" and card:
        write_model_card(folder.parent)
    fields = {k: v for k, v in manifest.items() if k not in ("lab", "previous", "files")}
    _chained(folder.parent, manifest["lab"], fields)


def honest_packet_lab2(evidence_root: Path, student: str) -> Path:
    """Write Lab 2's section (evidence/lab2/) for `student` on top of their Lab 1 packet (written first when the
    evidence folder has none). Returns the section folder."""
    from workbook.evidence.results import win_rate
    from workbook.labs.preference_lab import SCRIPTED_ANNOTATOR, reward_model_record

    if not (evidence_root / "manifest.json").is_file():
        honest_packet(evidence_root, student)
    folder = evidence_root / "lab2"
    folder.mkdir(parents=True, exist_ok=True)
    at = _clock(student)
    test = read_jsonl(COMPLIANCE_DIR / "locked_test.jsonl")
    train = read_jsonl(COMPLIANCE_DIR / "train.jsonl")
    held = read_jsonl(COMPLIANCE_DIR / "preference_pairs.jsonl")
    lab1 = _manifest(evidence_root)
    write_json(folder / "environment.json", {
        **json.loads((evidence_root / "environment.json").read_text(encoding="utf-8")), "model_id": MODEL_ID,
        "captured_at": at(2000)})
    picks = []
    for i, row in enumerate(train[:12]):
        choice = "ABAtBAsBABAA"[i]
        choice = {"t": "tie", "s": "skip"}.get(choice, choice)
        good, bad = row["answer"], " ".join(row["answer"].split()[:5])
        chosen, rejected = (good, bad) if choice in ("A", "B") else (None, None)
        picks.append({"prompt": row["question"], "chosen": chosen, "rejected": rejected, "source": "lab1-model",
                      "annotator": SCRIPTED_ANNOTATOR, "timestamp": at(2010 + 7 * i), "pair_id": f"lab1-{row['id']}",
                      "choice": choice})
    write_jsonl(folder / "picks.jsonl", picks)
    ab = sum(p["choice"] in ("A", "B") for p in picks)
    noise = _score_set(student, "reward", len(held), 0.4)
    record = reward_model_record(
        held, [1.0 + n for n in noise], [0.9 - n if i % 5 else 1.5 for i, n in enumerate(noise)],
        [-20.0 - 5 * (i % 2) for i in range(len(held))], [-21.0 for _ in held], ab, "linear head on frozen features")
    record["note"] = f"{student}: the reward model separates the held-out pairs better than either baseline."
    write_json(folder / "reward_model.json", record)
    log = [{"loss": round(math.log(2) - 0.03 * s, 4), "rewards/margins": 0.1 * s, "rewards/accuracies": 0.5,
            "logps/chosen": -40.0 + s, "logps/rejected": -41.0 - s, "step": s + 1, "logged_at": at(2200 + 9 * s)}
           for s in range(6)]
    write_jsonl(folder / "training_log.jsonl", log)
    sft, dpo = _lab2_answers(test)
    locked = evaluation_results(test, sft, dpo, sha256_file(COMPLIANCE_DIR / "locked_test.jsonl"))
    general = read_jsonl(COMPLIANCE_DIR / "general.jsonl")
    refusal = read_jsonl(COMPLIANCE_DIR / "refusal.jsonl")
    locked["regression"] = regression_results(
        general, {label: [{"id": r["id"], "answer": r["answer"]} for r in general] for label in ("baseline", "tuned")},
        refusal, {label: [{"id": r["id"], "answer": "I can't help with that." if r["expect"] == "refuse" else "Sure."}
                          for r in refusal] for label in ("baseline", "tuned")})
    add_forgetting_guard(locked)
    regression = locked.pop("regression")
    rewards_sft, rewards_dpo = _score_set(student, "sft", len(test)), _score_set(student, "dpo", len(test), 1.2)
    margins_sft, margins_dpo = _score_set(student, "msft", len(held)), _score_set(student, "mdpo", len(held), 1.3)
    results = {
        "locked_test": locked,
        "regression": regression,
        "win_rate": {
            "reward_model": {**win_rate(list(zip(rewards_dpo, rewards_sft, strict=True))), "per_prompt": [
                {"id": r["id"], "reward_sft": a, "reward_dpo": b} for r, a, b in zip(test, rewards_sft, rewards_dpo,
                                                                                     strict=True)]},
            "human_labels": {**win_rate(list(zip(margins_dpo, margins_sft, strict=True))),
                             "definition": "a win: the DPO model's log-prob margin chosen - rejected exceeds the SFT "
                                           "model's on a held-out human-labelled pair",
                             "per_pair": [{"id": p["id"], "margin_sft": a, "margin_dpo": b}
                                          for p, a, b in zip(held, margins_sft, margins_dpo, strict=True)]},
        },
        "kl": {"mean_token_kl": round(0.0123 + _score_set(student, "kl", 1, 0.01)[0], 4), "n_prompts": len(test),
               "reference": "lab1-sft"},
        "generated_at": at(2300),
    }
    write_json(folder / "eval_results.json", results)
    write_failure_analysis(locked["per_example"], folder / "failure_analysis.md")
    _explain_cases(folder / "failure_analysis.md", f"{student}/lab2")
    _chained(evidence_root, "lab2", {
        "student_id": student,
        "model": {"id": MODEL_ID, "revision": None},
        "start_adapter": {k: lab1["adapters"][-1][k] for k in ("version", "sha256", "path")},
        "adapters": [{"version": "v1", "sha256": sha256_bytes(f"dpo adapter of {student}".encode()),
                      "path": "labs/outputs/lab2/adapters/v1"}],
        "hyperparameters": {"beta": 0.1, "learning_rate": 5e-5, "max_steps": 6, "num_train_epochs": 1,
                            "per_device_train_batch_size": 4, "max_length": 192, "loss_type": "sigmoid", "seed": 0},
        "seed": 0,
        "wall_times": {"picks_s": 12.0, "reward_model_s": 8.5, "training_s": 61.0, "evaluation_s": 44.0,
                       "training_started_at": at(2150)},
        "git_commit": "0123abcd",
        "fast": True,
    })
    return folder


def honest_packet_lab3(evidence_root: Path, student: str) -> Path:
    """Write Lab 3's section (evidence/lab3/) for `student` on top of their Lab 1 and Lab 2 sections (written first
    when missing): export, parity, server, rollback drill, rollback note and model card. Returns the section."""
    from workbook.labs.serving import percentile
    from workbook.labs.shipping import (
        TASK_GATE_RULE,
        apply_task_gate,
        decide,
        variant_result,
        write_model_card,
        write_rollback_note,
    )

    if not (evidence_root / "lab2" / "manifest.json").is_file():
        honest_packet_lab2(evidence_root, student)
    folder = evidence_root / "lab3"
    folder.mkdir(parents=True, exist_ok=True)
    at = _clock(student)
    lab2 = _manifest(evidence_root / "lab2")
    write_json(folder / "environment.json", {
        **json.loads((evidence_root / "environment.json").read_text(encoding="utf-8")), "model_id": MODEL_ID,
        "captured_at": at(4000)})
    env = json.loads((folder / "environment.json").read_text(encoding="utf-8"))
    env["packages"].update(PACKAGES_LAB3)
    write_json(folder / "environment.json", env)
    stem = f"compliance-dpo-{student}"
    files = [{"level": level, "name": f"{stem}-{level}.gguf", "size_bytes": size,
              "sha256": sha256_bytes(f"{student} {level}".encode())} for level, size in GGUF_SIZES.items()]
    previous = {"label": "lab1-sft", "level": "Q4_K_M", "name": f"compliance-sft-{student}-Q4_K_M.gguf",
                "size_bytes": GGUF_SIZES["Q4_K_M"] + 1024, "sha256": sha256_bytes(f"{student} lab1-sft".encode())}
    export = {"source": {"adapter": {k: lab2["adapters"][-1][k] for k in ("version", "sha256")},
                         "base_model": MODEL_ID},
              "merged_sha256": sha256_bytes(f"merged model of {student}".encode()),
              "converter": f"convert_hf_to_gguf.py (llama-cpp-python {PACKAGES_LAB3['llama_cpp_python']})",
              "files": files, "previous_version": previous}
    write_json(folder / "export.json", export)
    test = read_jsonl(COMPLIANCE_DIR / "locked_test.jsonl")
    refusal = read_jsonl(COMPLIANCE_DIR / "refusal.jsonl")
    _, dpo = _lab2_answers(test)
    refusals = [{"id": r["id"], "answer": "I can't help with that." if r["expect"] == "refuse" else "Sure."}
                for r in refusal]
    q4 = [dict(a, answer=" ".join(a["answer"].split()[:-1])) if i == 0 else a for i, a in enumerate(dpo)]
    variants = {"hf": variant_result(test, dpo, refusal, refusals, "in-process"),
                "Q8_0": variant_result(test, dpo, refusal, refusals, "http"),
                "Q4_K_M": variant_result(test, q4, refusal, refusals, "http")}
    by_level = {f["level"]: f for f in files}
    port = 8100 + len(student)
    for level in ("Q8_0", "Q4_K_M"):  # what serving each file showed (section 4 of the lab)
        sha = by_level[level]["sha256"]
        variants[level]["server"] = {"served_id": f"lab2-dpo-{level}@{sha[:12]}", "served_sha256": sha,
                                     "ready_s": 2.2, "first_token_s": 2.8, "probe_answers": ["probe answer"],
                                     "port": port, "median_request_s": 0.35}
    apply_task_gate(variants)
    decision = decide(variants, by_level)
    write_json(folder / "parity.json", {"task_gate": {"rule": TASK_GATE_RULE, "max_drop": 0.03},
                                        "variants": variants, "decision": decision})
    chosen = by_level[decision["chosen"]]
    latencies = [round(400 + 900 * x, 1) for x in _score_set(student, "latency", 16)]
    tokens, wall = 16 * 24, round(sum(latencies) / 2000 + 0.05, 3)
    command = ["python", "-m", "llama_cpp.server", "--model", f"/content/lab3/{chosen['name']}", "--host",
               "127.0.0.1", "--port", str(port)]
    write_json(folder / "server.json", {
        "implementation": "llama-cpp-python server", "version": PACKAGES_LAB3["llama_cpp_python"],
        "command": command, "host": "127.0.0.1", "port": port, "model_sha256": chosen["sha256"],
        "ready_s": 2.4, "first_token_s": 3.1,
        "load_test": {"requests": 16, "concurrency": 2, "max_tokens": 24, "latencies_ms": latencies,
                      "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
                      "completion_tokens": tokens, "wall_s": wall, "tokens_per_s": round(tokens / wall, 2),
                      "errors": 0}})
    current = {"label": "lab2-dpo", "sha256": chosen["sha256"], "path": f"/content/lab3/{chosen['name']}"}
    before = {"label": "lab1-sft", "sha256": previous["sha256"], "path": f"/content/lab3/{previous['name']}"}
    prompts = [r["question"] for r in test[:2]]
    steps = []
    for action, source, target, seconds in (("rollback", current, before, 3.2), ("restore", before, current, 3.0)):
        expected = [f"{target['label']} answer {i}" for i in range(len(prompts))]
        steps.append({"action": action, "from": {k: source[k] for k in ("label", "sha256")},
                      "to": {k: target[k] for k in ("label", "sha256")}, "seconds": seconds,
                      "served_id": f"{target['label']}@{target['sha256'][:12]}", "served_sha256": target["sha256"],
                      "probes": [{"prompt": p, "answer": e, "expected": e} for p, e in zip(prompts, expected,
                                                                                            strict=True)],
                      "answers_match": True})
    commands = []
    for target in (before, current):
        commands += ["kill -TERM 4242", " ".join([*command[:4], target["path"], *command[5:]]),
                     f"curl -s http://127.0.0.1:{port}/v1/models", f"sha256sum {target['path']}"]
    drill = {"commands": commands, "steps": steps, "passed": True}
    write_json(folder / "rollback_drill.json", drill)
    write_rollback_note(folder / "rollback.md", drill, [current, before])
    write_model_card(evidence_root)
    _chained(evidence_root, "lab3", {
        "student_id": student, "seed": 0, "git_commit": "0123abcd", "fast": True,
        "wall_times": {"merge_s": 20.0, "export_s": 95.0, "parity_s": 130.0, "load_test_s": wall, "drill_s": 6.2},
        "chosen_file": {k: chosen[k] for k in ("level", "name", "sha256")},
    })
    return folder


# ----------------------------------------------------------------------------- ways a Lab 2 or Lab 3 section goes wrong
# Each takes the section folder (evidence/lab2 or evidence/lab3). A student who edits a file usually re-runs the
# manifest cell afterwards (refresh_section); the damage that is only caught by the hash table does not.


def _edit_json(folder: Path, name: str, change: Callable[[dict], object], refresh: bool = True,
               card: bool = True) -> None:
    data = json.loads((folder / name).read_text(encoding="utf-8"))
    change(data)
    write_json(folder / name, data)
    if refresh:
        refresh_section(folder, card)


def picks_tampered(folder: Path) -> None:
    """A pick turned around by hand after the manifest was written (the file stays well-formed)."""
    rows = read_jsonl(folder / "picks.jsonl")
    first = next(r for r in rows if r["choice"] in ("A", "B"))
    first["chosen"], first["rejected"] = first["rejected"], first["chosen"]
    write_jsonl(folder / "picks.jsonl", rows)


def picks_malformed(folder: Path) -> None:
    """A hand edit that breaks a line of picks.jsonl."""
    text = (folder / "picks.jsonl").read_text(encoding="utf-8")
    (folder / "picks.jsonl").write_text(text.replace('"choice": "B"}', '"choice": B}', 1), encoding="utf-8")


def picks_after_training(folder: Path) -> None:
    """Picks stamped after DPO training started (DPO never saw them), manifest re-written."""
    started = datetime.fromisoformat(_manifest(folder)["wall_times"]["training_started_at"])
    rows = read_jsonl(folder / "picks.jsonl")
    for i, row in enumerate(rows):
        row["timestamp"] = (started + timedelta(minutes=5, seconds=i)).isoformat()
    write_jsonl(folder / "picks.jsonl", rows)
    refresh_section(folder)


def lab1_edited_after_lab2(folder: Path) -> None:
    """Lab 1's manifest re-written after Lab 2 ran: the hash Lab 2 recorded no longer matches."""
    lab1 = _manifest(folder.parent)
    lab1["wall_times"]["evaluation_s"] += 1
    write_json(folder.parent / "manifest.json", lab1)


def reward_accuracy_inflated(folder: Path) -> None:
    """A held-out accuracy better than the per-pair rewards give."""
    _edit_json(folder, "reward_model.json", lambda r: r["heldout"].update(accuracy=min(1.0, r["heldout"]["accuracy"]
                                                                                       + 0.2)))


def win_rate_inconsistent(folder: Path) -> None:
    """A human-label win rate (and its interval) that does not follow from its wins, losses and ties."""
    _edit_json(folder, "eval_results.json", lambda r: r["win_rate"]["human_labels"].update(rate=0.9, ci95=[0.7, 0.97]))


def dpo_scores_edited(folder: Path) -> None:
    """A weak DPO answer given full marks by hand."""
    _edit_json(folder, "eval_results.json", lambda r: next(
        row for row in r["locked_test"]["per_example"] if row["tuned"]["score"] < 1)["tuned"].update(score=1.0))


def dpo_refusal_flag_flipped(folder: Path) -> None:
    def flip(results: dict) -> None:
        row = results["regression"]["refusal"]["tuned"]["per_example"][0]
        row["refused"] = not row["refused"]
    _edit_json(folder, "eval_results.json", flip)


def dpo_few_failure_cases(folder: Path) -> None:
    text = (folder / "failure_analysis.md").read_text(encoding="utf-8")
    (folder / "failure_analysis.md").write_text(text[: text.index("## Case 3")], encoding="utf-8")
    refresh_section(folder)


def export_record_corrupt(folder: Path) -> None:
    """One exported file's record damaged: its sha256 is not a hash any more."""
    _edit_json(folder, "export.json", lambda e: next(f for f in e["files"] if f["level"] == "F16").update(
        sha256="corrupt"))


def export_mis_sized(folder: Path) -> None:
    """Sizes that cannot be: the F16 file smaller than the Q8_0 one."""
    _edit_json(folder, "export.json", lambda e: next(f for f in e["files"] if f["level"] == "F16").update(
        size_bytes=GGUF_SIZES["Q8_0"] - 1))


def percentiles_wrong(folder: Path) -> None:
    """p50 and p95 that the latencies do not give."""
    _edit_json(folder, "server.json", lambda s: s["load_test"].update(p50_ms=100.0, p95_ms=150.0))


def server_died(folder: Path) -> None:
    """Two requests of the load test failed (the server died midway): fewer latencies, errors recorded, the summary
    made from what came back."""
    from workbook.labs.serving import percentile

    def fail(server: dict) -> None:
        load = server["load_test"]
        load["latencies_ms"], load["errors"] = load["latencies_ms"][:-2], 2
        load["completion_tokens"] -= 2 * load["max_tokens"]
        load["tokens_per_s"] = round(load["completion_tokens"] / load["wall_s"], 2)
        load.update({f"p{q}_ms": round(percentile(load["latencies_ms"], q), 1) for q in (50, 95)})
    _edit_json(folder, "server.json", fail)


def decision_not_smallest(folder: Path) -> None:
    """Q8_0 shipped although the smaller Q4_K_M passes the task gate (manifest updated to match)."""
    export = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    q8 = next(f for f in export["files"] if f["level"] == "Q8_0")
    _edit_json(folder, "parity.json", lambda p: p["decision"].update(chosen="Q8_0"), refresh=False)
    _edit_json(folder, "manifest.json", lambda m: m.update(chosen_file={k: q8[k] for k in ("level", "name", "sha256")}))


def parity_score_edited(folder: Path) -> None:
    _edit_json(folder, "parity.json", lambda p: p["variants"]["Q4_K_M"]["per_example"][0].update(score=1.0))


def _edit_card(folder: Path, change: Callable[[str], str]) -> None:
    path = folder / "model_card.md"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    refresh_section(folder, card=False)  # the manifest re-written, the edited card kept


def card_missing_section(folder: Path) -> None:
    def drop(text: str) -> str:
        start = text.index("## Limitations")
        return text[:start] + text[text.index("## Hashes"):]
    _edit_card(folder, drop)


def card_missing_number(folder: Path) -> None:
    p95 = json.loads((folder / "server.json").read_text(encoding="utf-8"))["load_test"]["p95_ms"]
    _edit_card(folder, lambda text: text.replace(f"p95 {p95:.1f} ms", "p95 (see server.json)"))


def drill_untimed(folder: Path) -> None:
    """A drill record without its timings (the card written before, the manifest after)."""
    _edit_json(folder, "rollback_drill.json", lambda d: [step.pop("seconds") for step in d["steps"]], card=False)


def drill_hash_mismatch(folder: Path) -> None:
    """The server reported another file after the rollback, yet the drill says it passed."""
    _edit_json(folder, "rollback_drill.json", lambda d: d["steps"][0].update(served_sha256="0" * 64))


def lab2_edited_after_lab3(folder: Path) -> None:
    """Lab 2's manifest re-written after Lab 3 ran."""
    lab2 = _manifest(folder.parent / "lab2")
    lab2["wall_times"]["evaluation_s"] += 1
    write_json(folder.parent / "lab2" / "manifest.json", lab2)


SCENARIOS_LAB2: dict[str, Callable[[Path], object]] = {
    "picks_tampered": picks_tampered,
    "picks_malformed": picks_malformed,
    "picks_after_training": picks_after_training,
    "lab1_edited_after_lab2": lab1_edited_after_lab2,
    "reward_accuracy_inflated": reward_accuracy_inflated,
    "win_rate_inconsistent": win_rate_inconsistent,
    "dpo_scores_edited": dpo_scores_edited,
    "dpo_refusal_flag_flipped": dpo_refusal_flag_flipped,
    "dpo_few_failure_cases": dpo_few_failure_cases,
}
# A picks file changed after the manifest fails the files table; a broken one also fails the picks gate and the
# reward model's count of the picks it trained on.
EXPECTED_LOSSES_LAB2: dict[str, set[str]] = {
    "picks_tampered": {"dpo_reproducibility"},
    "picks_malformed": {"picks", "reward_model", "dpo_reproducibility"},
    "picks_after_training": {"picks"},
    "lab1_edited_after_lab2": {"dpo_lineage"},
    "reward_accuracy_inflated": {"reward_model"},
    "win_rate_inconsistent": {"dpo_evaluation"},
    "dpo_scores_edited": {"dpo_evaluation"},
    "dpo_refusal_flag_flipped": {"dpo_regression"},
    "dpo_few_failure_cases": {"dpo_failure_analysis"},
    "copied_packet": {"dpo_reproducibility"},
}

SCENARIOS_LAB3: dict[str, Callable[[Path], object]] = {
    "export_record_corrupt": export_record_corrupt,
    "export_mis_sized": export_mis_sized,
    "percentiles_wrong": percentiles_wrong,
    "server_died": server_died,
    "decision_not_smallest": decision_not_smallest,
    "parity_score_edited": parity_score_edited,
    "card_missing_section": card_missing_section,
    "card_missing_number": card_missing_number,
    "drill_untimed": drill_untimed,
    "drill_hash_mismatch": drill_hash_mismatch,
    "lab2_edited_after_lab3": lab2_edited_after_lab3,
}
EXPECTED_LOSSES_LAB3: dict[str, set[str]] = {
    "export_record_corrupt": {"export_integrity"},
    "export_mis_sized": {"export_integrity"},
    "percentiles_wrong": {"server"},
    "server_died": {"server"},
    "decision_not_smallest": {"quantization_decision"},
    "parity_score_edited": {"quantization_decision"},
    "card_missing_section": {"model_card"},
    "card_missing_number": {"model_card"},
    "drill_untimed": {"rollback_drill"},
    "drill_hash_mismatch": {"rollback_drill"},
    "lab2_edited_after_lab3": {"ship_reproducibility"},
    "copied_packet": {"ship_reproducibility"},
}
