"""The seven gate checks of a Lab 1 evidence packet: check_gate for one (an nbgrader test cell), validate_packet
for all. A bad packet never raises: each problem becomes a specific failure in the gate it belongs to.

Nothing heavy is imported (no torch), so graders run the checks fast.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from workbook.core.io import sha256_file, sha256_tree
from workbook.eval.metrics import aggregate, score_answer
from workbook.evidence.packet import (
    Packet,
    loss_points,
    parse_failure_cases,
    parse_time,
    png_text_chunks,
    points_sha256,
)
from workbook.evidence.schema import (
    ENVIRONMENT_KEYS,
    GATES,
    HYPERPARAMETER_KEYS,
    LOSS_POINTS_KEY,
    MIN_FAILURE_CASES,
    PACKET_FILES,
    REQUIRED_PACKAGES,
    WALL_TIME_KEYS,
    GateResult,
)

_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
_TOLERANCE = 1e-3


def _result(name: str, checks: int, failures: list[str], notes: list[str] | None = None) -> GateResult:
    """Score = share of checks passed (at least one check counted); passed only with no failures."""
    score = max(0.0, 1.0 - len(failures) / max(checks, 1))
    return GateResult(name, not failures, round(score, 3), failures, notes or [])


def _missing_keys(data: dict[str, Any], keys: Iterable[str]) -> list[str]:
    return [key for key in keys if key not in data or data[key] in (None, "", [], {})]


def _check_environment(packet: Packet) -> GateResult:
    env, error = packet.json("environment.json")
    if error:
        return _result("environment", 1, [error])
    failures = []
    missing = _missing_keys(env, [k for k in ENVIRONMENT_KEYS if k not in ("fast", "gpu")])
    missing += [k for k in ("fast", "gpu") if k not in env]
    if missing:
        failures.append(
            f"environment.json lacks {', '.join(missing)}: store workbook.core.runtime.detect() plus the seed."
        )
    packages = env.get("packages") if isinstance(env.get("packages"), dict) else {}
    absent = [name for name in REQUIRED_PACKAGES if not packages.get(name)]
    if absent:
        failures.append(f"environment.json records no version for {', '.join(absent)}.")
    if env.get("device") not in ("cpu", "cuda"):
        failures.append(f"environment.json device is {env.get('device')!r}; expected 'cpu' or 'cuda'.")
    gpu = env.get("gpu") if isinstance(env.get("gpu"), dict) else {}
    if env.get("device") == "cuda":
        gaps = _missing_keys(gpu, ("name", "compute_capability", "cuda_version"))
        if gaps:
            failures.append(f"a CUDA run must record the GPU's {', '.join(gaps)} in environment.json.")
    if "seed" in env and not isinstance(env["seed"], int):
        failures.append(f"environment.json seed should be an integer, found {env['seed']!r}.")
    return _result("environment", 5, failures)


def _locked_ids_problem(label: str, ids: list[str], locked_ids: list[str]) -> str | None:
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    missing = [i for i in locked_ids if i not in ids]
    extra = [i for i in ids if i not in locked_ids]
    if not (duplicates or missing or extra):
        return None
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} locked ids (e.g. {', '.join(missing[:3])})")
    if extra:
        parts.append(f"has {len(extra)} ids not in the locked set (e.g. {', '.join(extra[:3])})")
    if duplicates:
        parts.append(f"repeats ids {', '.join(duplicates[:3])}")
    return f"{label} " + "; ".join(parts) + "."


def _against_locked(packet: Packet, label: str, rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[str]]:
    """The locked test set (None when it cannot be read) and the failures of `rows` against its ids."""
    locked, error = packet.locked()
    if error:
        return None, [error]
    problem = _locked_ids_problem(label, [str(r.get("id")) for r in rows], locked["ids"])
    return locked, [problem] if problem else []


def _check_baseline(packet: Packet) -> GateResult:
    rows, error = packet.jsonl("baseline.jsonl")
    if error:
        return _result("baseline", 1, [error])
    locked, failures = _against_locked(packet, "baseline.jsonl", rows)
    if locked:
        hashes = {r.get("locked_test_sha256") for r in rows}
        if hashes != {locked["sha256"]}:
            failures.append(
                "baseline.jsonl was not made from the shipped locked test set: its locked_test_sha256 "
                f"({', '.join(sorted(str(h)[:12] for h in hashes))}) differs from {locked['sha256'][:12]}."
            )
    no_answer = [str(r.get("id")) for r in rows if not isinstance(r.get("answer"), str)]
    if no_answer:
        failures.append(f"baseline.jsonl rows without an answer: {', '.join(no_answer[:5])}.")
    stamps = [parse_time(r.get("timestamp")) for r in rows]
    if not rows or any(s is None for s in stamps):
        failures.append("every baseline.jsonl row needs an ISO 8601 `timestamp` of when it was generated.")
    else:
        started, source = packet.training_start()
        if started is None:
            failures.append("no training start time found (manifest wall_times.training_started_at or training log).")
        else:
            try:
                late = [str(r.get("id")) for r, s in zip(rows, stamps, strict=True) if s >= started]
            except TypeError:
                late, failures = [], failures + ["timestamps mix time zones; write them all in UTC with an offset."]
            if late:
                failures.append(
                    f"{len(late)} baseline answers were generated after training started ({source}, "
                    f"{started.isoformat()}), e.g. {', '.join(late[:3])}: capture the baseline before training."
                )
    return _result("baseline", 4, failures)


def _check_scored_rows(label: str, rows: list[dict[str, Any]], failures: list[str]) -> None:
    """Per-example scores must be the ones the answers actually earn."""
    wrong = []
    for row in rows:
        side = row.get(label)
        if not isinstance(side, dict) or not isinstance(side.get("answer"), str):
            failures.append(f"eval_results.json example {row.get('id')!r} has no {label} answer.")
            return
        expected = score_answer(side["answer"], str(row.get("reference", "")), row.get("key_facts") or [])
        if any(not isinstance(side.get(k), (int, float)) or abs(side[k] - v) > _TOLERANCE for k, v in expected.items()):
            wrong.append(str(row.get("id")))
    if wrong:
        failures.append(
            f"eval_results.json {label} scores do not match their answers for {len(wrong)} examples "
            f"(e.g. {', '.join(wrong[:3])}): re-run the scoring cell instead of editing scores."
        )


def _check_evaluation(packet: Packet) -> GateResult:
    results, error = packet.json("eval_results.json")
    if error:
        return _result("evaluation", 1, [error])
    per_example = results.get("per_example")
    if not isinstance(per_example, list) or not per_example or not all(isinstance(r, dict) for r in per_example):
        return _result("evaluation", 5, ["eval_results.json has no per_example list of scored test rows."])
    locked, failures = _against_locked(packet, "eval_results.json", per_example)
    recorded = results.get("locked_test") if isinstance(results.get("locked_test"), dict) else {}
    if locked and recorded.get("sha256") != locked["sha256"]:
        failures.append(
            f"eval_results.json locked_test.sha256 ({str(recorded.get('sha256'))[:12]}) differs from the "
            f"shipped locked test set ({locked['sha256'][:12]})."
        )
    for label in ("baseline", "tuned"):
        _check_scored_rows(label, per_example, failures)
    agg = results.get("aggregate") if isinstance(results.get("aggregate"), dict) else {}
    for label in ("baseline", "tuned"):
        recorded_agg = agg.get(label)
        if not isinstance(recorded_agg, dict):
            failures.append(f"eval_results.json aggregate.{label} is missing.")
            continue
        sides = [r[label] for r in per_example if isinstance(r.get(label), dict)]
        expected = aggregate([{k: v for k, v in s.items() if k != "facts_found"} for s in sides])
        off = [
            key
            for key in ("rouge_l", "key_fact_recall", "score")
            if not isinstance(recorded_agg.get(key), (int, float))
            or abs(recorded_agg[key] - expected.get(key, 0)) > _TOLERANCE
        ]
        if off or recorded_agg.get("n") != len(per_example):
            failures.append(f"eval_results aggregate.{label} disagrees with the per-example rows ({off or 'n'}).")
    baseline_rows, baseline_error = packet.jsonl("baseline.jsonl")
    if not baseline_error:
        captured = {str(r.get("id")): r.get("answer") for r in baseline_rows}
        changed = [
            str(r.get("id"))
            for r in per_example
            if isinstance(r.get("baseline"), dict) and captured.get(str(r.get("id"))) != r["baseline"].get("answer")
        ]
        if changed:
            failures.append(
                f"{len(changed)} baseline answers in eval_results.json differ from baseline.jsonl "
                f"(e.g. {', '.join(changed[:3])}): compare against the captured baseline."
            )
    return _result("evaluation", 6, failures)


def _check_regression(packet: Packet) -> GateResult:
    results, error = packet.json("eval_results.json")
    if error:
        return _result("regression", 1, [error])
    regression = results.get("regression")
    if not isinstance(regression, dict):
        return _result("regression", 4, ["eval_results.json has no `regression` section (general + refusal checks)."])
    failures = []
    for check, per_row_key in (("general", "score"), ("refusal", "refused")):
        section = regression.get(check)
        if not isinstance(section, dict):
            failures.append(f"regression.{check} is missing: run the {check} spot-check for both models.")
            continue
        ids = {}
        for label in ("baseline", "tuned"):
            rows = (section.get(label) or {}).get("per_example") if isinstance(section.get(label), dict) else None
            if not isinstance(rows, list) or not rows:
                failures.append(f"regression.{check}.{label} has no per_example results.")
                continue
            if not all(isinstance(r, dict) and per_row_key in r and isinstance(r.get("answer"), str) for r in rows):
                failures.append(f"regression.{check}.{label} rows need an `answer` and `{per_row_key}`.")
            ids[label] = sorted(str(r.get("id")) for r in rows if isinstance(r, dict))
        if len(ids) == 2 and ids["baseline"] != ids["tuned"]:
            failures.append(f"regression.{check} checked different prompts for the baseline and the tuned model.")
    if not isinstance(regression.get("forgetting_guard"), dict):
        failures.append("regression.forgetting_guard is missing: apply workbook.eval.metrics.forgetting_guard.")
    return _result("regression", 5, failures)


def _check_reproducibility(packet: Packet) -> GateResult:
    manifest, error = packet.json("manifest.json")
    if error:
        return _result("reproducibility", 1, [error])
    failures = []
    dataset = manifest.get("dataset") if isinstance(manifest.get("dataset"), dict) else {}
    gaps = _missing_keys(dataset, ("name", "version", "sha256", "locked_test_sha256"))
    if gaps:
        failures.append(f"manifest.json dataset lacks {', '.join(gaps)}.")
    locked, locked_error = packet.locked()
    if not locked_error and dataset.get("locked_test_sha256") not in (None, locked["sha256"]):
        failures.append("manifest.json dataset.locked_test_sha256 differs from the shipped locked test set.")
    model = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
    gaps = [k for k in ("id", "revision") if k not in model] + (["id"] if "id" in model and not model["id"] else [])
    if gaps:
        failures.append(f"manifest.json model lacks {', '.join(gaps)} (revision may be null for the offline model).")
    hyper = manifest.get("hyperparameters") if isinstance(manifest.get("hyperparameters"), dict) else {}
    gaps = [k for k in HYPERPARAMETER_KEYS if k not in hyper]
    if gaps:
        failures.append(f"manifest.json hyperparameters lack {', '.join(gaps)}.")
    if not isinstance(manifest.get("seed"), int):
        failures.append("manifest.json has no integer `seed`.")
    walls = manifest.get("wall_times") if isinstance(manifest.get("wall_times"), dict) else {}
    gaps = _missing_keys(walls, WALL_TIME_KEYS)
    if gaps:
        failures.append(f"manifest.json wall_times lack {', '.join(gaps)}.")
    for key in ("git_commit", "student_id"):
        if not isinstance(manifest.get(key), str) or not manifest.get(key):
            failures.append(f"manifest.json has no `{key}`.")
    failures += _check_file_hashes(packet, manifest)
    failures += _check_loss_curve(packet, manifest)
    return _result("reproducibility", 9, failures)


def _check_file_hashes(packet: Packet, manifest: dict[str, Any]) -> list[str]:
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return ["manifest.json has no `files` table of packet files and their sha256."]
    failures = []
    unlisted = [name for name in PACKET_FILES if name != "manifest.json" and name not in files]
    if unlisted:
        failures.append(f"manifest.json files does not list {', '.join(unlisted)}.")
    for name, recorded in files.items():
        path = packet.folder / name
        if not path.is_file():
            failures.append(f"manifest.json lists {name}, which is not in the packet.")
        elif sha256_file(path) != recorded:
            failures.append(f"{name} changed after the manifest was written (sha256 mismatch): re-run the final cells.")
    return failures


def _check_loss_curve(packet: Packet, manifest: dict[str, Any]) -> list[str]:
    log, error = packet.jsonl("training_log.jsonl")
    if error:
        return [error]
    points = loss_points(log)
    if not points["loss"]:
        return ["training_log.jsonl has no train `loss` entries: set logging_steps so the trainer logs."]
    failures = []
    curve = manifest.get("loss_curve") if isinstance(manifest.get("loss_curve"), dict) else {}
    if curve.get("points_sha256") != points_sha256(points):
        failures.append("training_log.jsonl does not match the loss series recorded in manifest.json loss_curve.")
    png = packet.folder / "loss_curve.png"
    if not png.is_file():
        return failures + ["loss_curve.png is missing: plot it from the training log."]
    try:
        embedded = json.loads(png_text_chunks(png.read_bytes()).get(LOSS_POINTS_KEY, "null"))
    except (ValueError, struct.error, zlib.error) as problem:
        return failures + [f"loss_curve.png is not a readable PNG ({problem})."]
    if embedded is None:
        failures.append(
            "loss_curve.png carries no plotted points: save it with workbook.evidence.writers.save_loss_curve."
        )
    elif points_sha256(embedded) != points_sha256(points):
        failures.append("loss_curve.png plots different points from training_log.jsonl: the curve contradicts the log.")
    finite = all(math.isfinite(v) for _, v in points["loss"])
    if not finite:
        failures.append("training_log.jsonl has a non-finite loss (NaN or inf): the run diverged.")
    return failures


def _check_failure_analysis(packet: Packet) -> GateResult:
    text, error = packet.text("failure_analysis.md")
    if error:
        return _result("failure_analysis", 1, [error])
    locked, locked_error = packet.locked()
    if locked_error:
        return _result("failure_analysis", 1, [locked_error])
    cases = parse_failure_cases(text)
    real = [c for c in cases if c["id"] in locked["ids"]]
    unknown = [c["id"] for c in cases if c["id"] not in locked["ids"]]
    failures, notes = [], []
    if unknown:
        failures.append(f"failure_analysis.md cites ids that are not in the locked test set: {', '.join(unknown)}.")
    distinct = {c["id"] for c in real}
    if len(distinct) < MIN_FAILURE_CASES:
        failures.append(
            f"failure_analysis.md has {len(distinct)} case(s) with real locked test ids; at least "
            f"{MIN_FAILURE_CASES} are needed (headings like '## Case 1: gdpr-01b')."
        )
    empty = [c["id"] for c in real if len(c["explanation"]) < 20]
    if empty:
        failures.append(f"failure_analysis.md cases without an explanation: {', '.join(empty)}.")
    auto = [c["id"] for c in real if c["auto_generated"]]
    if auto:
        notes.append(
            f"{len(auto)} case(s) still carry the auto-diagnosis ({', '.join(auto)}): replace it with your own "
            "explanation and delete the AUTO-DIAGNOSIS line to earn the credit."
        )
    result = _result("failure_analysis", 3, failures, notes)
    own = len([c for c in real if not c["auto_generated"] and len(c["explanation"]) >= 20])
    result.score = round(min(result.score, own / MIN_FAILURE_CASES, 1.0), 3) if not failures else result.score
    return result


def _check_rollback(packet: Packet) -> GateResult:
    text, error = packet.text("rollback.md")
    if error:
        return _result("rollback", 1, [error])
    failures = []
    hashes = set(_SHA256.findall(text))
    if not hashes:
        failures.append("rollback.md records no adapter sha256: list every adapter version with its hash.")
    if "base model" not in text.lower():
        failures.append("rollback.md does not say how to return to the base model.")
    manifest, manifest_error = packet.json("manifest.json")
    if not manifest_error:
        adapters = manifest.get("adapters") if isinstance(manifest.get("adapters"), list) else []
        if not adapters:
            failures.append("manifest.json lists no `adapters` (version, path, sha256).")
        for adapter in adapters:
            if not isinstance(adapter, dict) or adapter.get("sha256") not in hashes:
                failures.append(f"adapter {adapter!r} from manifest.json is not in rollback.md with its sha256.")
                continue
            # Only an absolute path names the student's own files; a grader's machine holds none of them, and a
            # relative path would be read against whatever folder the check happens to run in.
            path = Path(str(adapter.get("path", "")))
            if path.is_absolute() and path.exists() and sha256_tree(path) != adapter["sha256"]:
                failures.append(f"adapter {adapter.get('version')} at {path} no longer matches its recorded sha256.")
    return _result("rollback", 3, failures)


_CHECKS: dict[str, Callable[[Packet], GateResult]] = {
    "environment": _check_environment,
    "baseline": _check_baseline,
    "evaluation": _check_evaluation,
    "regression": _check_regression,
    "reproducibility": _check_reproducibility,
    "failure_analysis": _check_failure_analysis,
    "rollback": _check_rollback,
}


def _run(name: str, packet: Packet) -> GateResult:
    try:
        return _CHECKS[name](packet)
    except Exception as error:  # a packet shaped in a way no check foresaw must still give a report
        problem = f"{name}: the packet has an unexpected shape ({type(error).__name__}: {error})."
        return GateResult(name, False, 0.0, [problem])


def check_gate(name: str, evidence_dir: str | Path, locked_test_path: str | Path | None = None) -> GateResult:
    """Check one gate of the packet in `evidence_dir` (what an nbgrader test cell calls)."""
    if name not in _CHECKS:
        raise ValueError(f"Unknown gate {name!r}: choose one of {', '.join(GATES)}.")
    packet = Packet(evidence_dir, locked_test_path)
    if not packet.folder.is_dir():
        return GateResult(name, False, 0.0, [f"the evidence folder {packet.folder} does not exist: run the lab first."])
    return _run(name, packet)


def validate_packet(evidence_dir: str | Path, locked_test_path: str | Path | None = None) -> dict[str, GateResult]:
    """Every gate's verdict for the packet in `evidence_dir`, in GATES order. Never raises on a bad packet."""
    packet = Packet(evidence_dir, locked_test_path)
    if not packet.folder.is_dir():
        message = f"the evidence folder {packet.folder} does not exist: run the lab first."
        return {name: GateResult(name, False, 0.0, [message]) for name in GATES}
    return {name: _run(name, packet) for name in GATES}
