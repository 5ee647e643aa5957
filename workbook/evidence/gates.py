"""The seven gate checks of a Lab 1 evidence packet, and the entry points for every lab's gates: check_gate for
one (an nbgrader test cell), validate_packet for one lab's section (Lab 2's and Lab 3's checks are in gates_lab2
and gates_lab3, built on the checks here). A bad packet never raises: each problem becomes a specific failure in
the gate it belongs to.

Partial credit is exact: each gate has a fixed list of named checks (`GATE_CHECKS`), counted as they run by a
`Tally` (workbook.evidence.tally); a gate's score is the share of its checks that passed, so one fault costs
exactly 1/len(checks) of the gate, however many files or rows it touches. A file a gate cannot read fails every
check that needs it (the message says which file and why). Facts the grader holds are re-derived rather than taken
from the packet: the locked test rows (ids, references, key facts), the general and refusal prompt sets, every per-
example score, the aggregates and the forgetting guard. Nothing a packet names outside itself is ever opened by a
grader; only the student's own self-check (`validate_packet(..., local=True)`) re-hashes the adapter folders
rollback.md lists.

Nothing heavy is imported (no torch), so graders run the checks fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from workbook.core.io import sha256_tree
from workbook.eval.metrics import aggregate, forgetting_guard, is_refusal, score_answer
from workbook.evidence import untrusted
from workbook.evidence.packet import (
    Packet,
    loss_points,
    parse_failure_cases,
    parse_time,
    png_text_chunks,
    points_sha256,
)
from workbook.evidence.schema import (
    DEFAULT_LOCKED_TEST,
    ENVIRONMENT_KEYS,
    HYPERPARAMETER_KEYS,
    LAB_GATES,
    LOSS_POINTS_KEY,
    MIN_FAILURE_CASES,
    PACKET_FILES,
    REQUIRED_PACKAGES,
    WALL_TIME_KEYS,
    GateResult,
)
from workbook.evidence.tally import SHA256, TOLERANCE, Tally, as_dict, is_number, missing_keys, utc

# Each gate's checks, in the order they run. One fault fails exactly one of them.
GATE_CHECKS: dict[str, tuple[str, ...]] = {
    "environment": ("keys", "packages", "device", "gpu", "seed"),
    "baseline": ("ids", "locked_sha256", "answers", "timestamps", "before_training"),
    "evaluation": ("ids", "locked_sha256", "references", "baseline_scores", "tuned_scores", "aggregates",
                   "baseline_matches_capture"),
    "regression": ("general", "general_scores", "refusal", "refusal_flags", "same_prompts", "forgetting_guard"),
    "reproducibility": ("dataset", "model", "hyperparameters", "seed", "wall_times", "provenance", "files",
                        "log_matches_manifest", "curve_matches_log", "finite_loss"),
    "failure_analysis": ("known_ids", "enough_cases", "explained"),
    "rollback": ("hashes", "base_model", "adapters_listed", "adapters_documented"),
}


def _tally(name: str) -> Tally:
    return Tally(name, GATE_CHECKS[name])


def _check_environment(packet: Packet) -> GateResult:
    """5 checks: the runtime keys, the package versions, the device, the GPU details of a CUDA run, an integer seed."""
    tally = _tally("environment")
    env, error = packet.json("environment.json")
    if error:
        tally.block(error)
        return tally.result()
    missing = missing_keys(env, [k for k in ENVIRONMENT_KEYS if k not in ("fast", "gpu")])
    missing += [k for k in ("fast", "gpu") if k not in env]
    tally.check("keys", not missing, lambda: (
        f"environment.json lacks {', '.join(missing)}: store workbook.core.runtime.detect() plus the seed."))
    packages = as_dict(env.get("packages"))
    absent = [name for name in REQUIRED_PACKAGES if not packages.get(name)]
    tally.check("packages", not absent, lambda: f"environment.json records no version for {', '.join(absent)}.")
    tally.check("device", env.get("device") in ("cpu", "cuda"),
                lambda: f"environment.json device is {env.get('device')!r}; expected 'cpu' or 'cuda'.")
    gaps = missing_keys(as_dict(env.get("gpu")), ("name", "compute_capability", "cuda_version"))
    tally.check("gpu", env.get("device") != "cuda" or not gaps,
                lambda: f"a CUDA run must record the GPU's {', '.join(gaps)} in environment.json.")
    tally.check("seed", isinstance(env.get("seed"), int) and not isinstance(env.get("seed"), bool),
                lambda: f"environment.json seed should be an integer, found {env.get('seed')!r}.")
    return tally.result()


def _locked_ids_problem(label: str, ids: list[str], locked_ids: list[str]) -> str | None:
    counts: dict[str, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    duplicates = sorted(i for i, n in counts.items() if n > 1)
    known = set(locked_ids)
    missing = [i for i in locked_ids if i not in counts]
    extra = [i for i in ids if i not in known]
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


def training_start(packet: Packet) -> tuple[datetime | None, str]:
    """When training started: the earlier of the manifest's record and the first stamped training-log entry.

    The log is what the trainer wrote as it ran; a manifest time later than the log's first entry is ignored.
    """
    found = []
    manifest, _ = packet.json("manifest.json")
    stamp = parse_time(as_dict(as_dict(manifest).get("wall_times")).get("training_started_at"))
    if stamp:
        found.append((utc(stamp), "manifest.json wall_times.training_started_at"))
    log, _ = packet.jsonl("training_log.jsonl")
    stamps = [utc(s) for s in (parse_time(row.get("logged_at")) for row in log or []) if s]
    if stamps:
        found.append((min(stamps), "the first training_log.jsonl entry"))
    return min(found, key=lambda pair: pair[0]) if found else (None, "")


def _check_baseline(packet: Packet) -> GateResult:
    """5 checks: the locked ids, made from the locked set (sha256), an answer per row, a timestamp per row, and every
    answer captured before training started (see training_start)."""
    tally = _tally("baseline")
    rows, error = packet.jsonl("baseline.jsonl")
    if error:
        tally.block(error)
        return tally.result()
    locked, locked_error = packet.locked()
    if locked_error:
        tally.block(locked_error, ("ids", "locked_sha256"))
    else:
        problem = _locked_ids_problem("baseline.jsonl", [str(r.get("id")) for r in rows], locked["ids"])
        tally.check("ids", problem is None, problem or "")
        hashes = {str(r.get("locked_test_sha256")) for r in rows}
        tally.check("locked_sha256", hashes == {locked["sha256"]}, lambda: (
            "baseline.jsonl was not made from the shipped locked test set: its locked_test_sha256 "
            f"({', '.join(sorted(h[:12] for h in hashes))}) differs from {locked['sha256'][:12]}."))
    no_answer = [str(r.get("id")) for r in rows if not isinstance(r.get("answer"), str)]
    tally.check("answers", not no_answer, lambda: f"baseline.jsonl rows without an answer: {', '.join(no_answer[:5])}.")
    stamps = [parse_time(r.get("timestamp")) for r in rows]
    if not tally.check("timestamps", rows and all(s is not None for s in stamps),
                       "every baseline.jsonl row needs an ISO 8601 `timestamp` of when it was generated."):
        tally.block("the baseline's capture time is unknown, so it cannot be shown to precede training.")
        return tally.result()
    started, source = training_start(packet)
    if started is None:
        tally.check("before_training", False,
                    "no training start time found (manifest wall_times.training_started_at or training log).")
        return tally.result()
    late = [str(r.get("id")) for r, s in zip(rows, stamps, strict=True) if utc(s) >= started]
    tally.check("before_training", not late, lambda: (
        f"{len(late)} baseline answers were generated after training started ({source}, "
        f"{started.isoformat()}), e.g. {', '.join(late[:3])}: capture the baseline before training."))
    return tally.result()


def _rescored(side: Any, reference: str, key_facts: list[str]) -> dict[str, float] | None:
    if not isinstance(side, dict) or not isinstance(side.get("answer"), str):
        return None
    return score_answer(side["answer"], reference, key_facts)


def locked_test_checks(tally: Tally, packet: Packet, results: dict[str, Any], where: str = "eval_results.json",
                       names: dict[str, str] | None = None, also_blocks: tuple[str, ...] = ()) -> bool:
    """The locked-test part of an evaluation (6 checks): ids, the locked set's sha256, references and key facts
    equal to the locked rows, both sides' per-example scores (recomputed from the answers against the locked rows)
    and the aggregates (recomputed). `results` is evaluation_results' dict; `names` maps "baseline"/"tuned" to the
    check names' prefixes. False when the checks could not run: they (and `also_blocks`) then fail, with the reason."""
    names = names or {"baseline": "baseline", "tuned": "tuned"}
    keys = ("ids", "locked_sha256", "references", *(f"{n}_scores" for n in names.values()), "aggregates",
            *also_blocks)
    per_example = results.get("per_example")
    if not isinstance(per_example, list) or not per_example or not all(isinstance(r, dict) for r in per_example):
        tally.block(f"{where} has no per_example list of scored test rows.", keys)
        return False
    locked, locked_error = packet.locked()
    if locked_error:
        tally.block(locked_error, keys)
        return False
    problem = _locked_ids_problem(where, [str(r.get("id")) for r in per_example], locked["ids"])
    tally.check("ids", problem is None, problem or "")
    recorded = as_dict(results.get("locked_test"))
    tally.check("locked_sha256", recorded.get("sha256") == locked["sha256"], lambda: (
        f"{where} locked_test.sha256 ({str(recorded.get('sha256'))[:12]}) differs from the "
        f"shipped locked test set ({locked['sha256'][:12]})."))
    truth = {i: locked["rows"][i] for i in locked["ids"]}
    rows = {str(r.get("id")): r for r in per_example if str(r.get("id")) in truth}
    altered = [i for i, r in rows.items()
               if r.get("reference") != truth[i].get("answer") or r.get("key_facts") != truth[i].get("key_facts")]
    tally.check("references", not altered, lambda: (
        f"{where} references or key facts differ from the locked test set for {len(altered)} rows "
        f"(e.g. {', '.join(altered[:3])}): score against the shipped rows."))
    trusted: dict[str, list[dict[str, float]]] = {}
    for label in ("baseline", "tuned"):
        wrong, scores = [], []
        for i in locked["ids"]:
            row = rows.get(i, {})
            reference, facts = str(truth[i].get("answer", "")), list(truth[i].get("key_facts") or [])
            expected = _rescored(row.get(label), reference, facts)
            side = as_dict(row.get(label))
            if expected is None or any(not is_number(side.get(k)) or abs(side[k] - v) > TOLERANCE
                                       for k, v in expected.items()):
                wrong.append(i)
            scores.append(expected or {"rouge_l": 0.0, "key_fact_recall": 0.0, "score": 0.0})
        trusted[label] = scores
        tally.check(f"{names[label]}_scores", not wrong, lambda label=label, wrong=wrong: (
            f"{where} {label} scores do not match their answers (scored against the locked rows) for "
            f"{len(wrong)} examples (e.g. {', '.join(wrong[:3])}): re-run the scoring cell instead of editing scores."))
    agg = as_dict(results.get("aggregate"))
    off = []
    for label in ("baseline", "tuned"):
        expected = aggregate(trusted[label])
        recorded_agg = as_dict(agg.get(label))
        off += [f"aggregate.{label}.{key}" for key in ("rouge_l", "key_fact_recall", "score")
                if not is_number(recorded_agg.get(key)) or abs(recorded_agg[key] - expected.get(key, 0)) > TOLERANCE]
        if recorded_agg.get("n") != len(locked["ids"]):
            off.append(f"aggregate.{label}.n")
    tally.check("aggregates", not off, lambda: (
        f"{where} aggregates disagree with the rescored rows ({', '.join(off[:4])})."))
    return True


def _check_evaluation(packet: Packet) -> GateResult:
    """7 checks: locked_test_checks (6), and baseline answers equal to those captured in baseline.jsonl."""
    tally = _tally("evaluation")
    results, error = packet.json("eval_results.json")
    if error:
        tally.block(error)
        return tally.result()
    if not locked_test_checks(tally, packet, results, also_blocks=("baseline_matches_capture",)):
        return tally.result()
    locked, _ = packet.locked()
    rows = {str(r.get("id")): r for r in results["per_example"] if str(r.get("id")) in locked["rows"]}
    baseline_rows, baseline_error = packet.jsonl("baseline.jsonl")
    if baseline_error:
        tally.check("baseline_matches_capture", False, baseline_error)
    else:
        captured = {str(r.get("id")): r.get("answer") for r in baseline_rows}
        changed = [i for i, r in rows.items() if captured.get(i) != as_dict(r.get("baseline")).get("answer")]
        tally.check("baseline_matches_capture", not changed, lambda: (
            f"{len(changed)} baseline answers in eval_results.json differ from baseline.jsonl "
            f"(e.g. {', '.join(changed[:3])}): compare against the captured baseline."))
    return tally.result()


def reference_rows(packet: Packet, name: str) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
    """The instructor's general or refusal prompt set, beside the locked test set."""
    path = packet.locked_test_path.parent / name
    if not path.is_file():  # a locked set given alone: the course's own copy of the prompt sets
        path = DEFAULT_LOCKED_TEST.parent / name
    try:
        return {str(r["id"]): r for r in untrusted.read_jsonl(path, required=("id",))}, None
    except untrusted.UntrustedFileError as error:
        return None, f"the reference set {name} cannot be read ({error})."


def _regression_rows(section: Any, label: str) -> list[dict[str, Any]] | None:
    rows = as_dict(as_dict(section).get(label)).get("per_example")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        return None
    return rows


def _check_regression(packet: Packet) -> GateResult:
    """6 checks: regression_checks on eval_results.json, with the locked-test scores of the evaluation gate."""
    tally = _tally("regression")
    results, error = packet.json("eval_results.json")
    if error:
        tally.block(error)
        return tally.result()
    trusted = _check_evaluation(packet).passed
    regression_checks(tally, packet, results.get("regression"), as_dict(results.get("aggregate")) if trusted else None)
    return tally.result()


def regression_checks(tally: Tally, packet: Packet, regression: Any, task: dict[str, Any] | None) -> None:
    """6 checks: general spot-check rows for both models, their scores (recomputed from the answers against
    general.jsonl), refusal rows for both models, their refused flags (recomputed), the same prompts (the shipped
    sets) for both models, and the forgetting guard (recomputed from the rescored general scores and `task`, the
    locked-test aggregates, when an evaluation check has shown them to be trusted; None otherwise)."""
    if not isinstance(regression, dict):
        tally.block("eval_results.json has no `regression` section (general + refusal checks).")
        return
    rescored: dict[str, float] = {}
    prompts_ok, prompt_problems = True, []
    for check, truth_name in (("general", "general.jsonl"), ("refusal", "refusal.jsonl")):
        section = regression.get(check)
        rows = {label: _regression_rows(section, label) for label in ("baseline", "tuned")}
        lacking = [label for label, r in rows.items() if r is None or not all(isinstance(x.get("answer"), str)
                                                                              for x in r)]
        scores_key = f"{check}_scores" if check == "general" else "refusal_flags"
        if not tally.check(check, not lacking, lambda check=check, lacking=lacking: (
                f"regression.{check}.{'/'.join(lacking)} has no per_example rows with answers: run the {check} "
                "spot-check for both models.")):
            tally.block(f"regression.{check} cannot be rescored.", (scores_key,))
            prompts_ok = False
            continue
        truth, truth_error = reference_rows(packet, truth_name)
        if truth_error:
            tally.check(scores_key, False, truth_error)
            prompts_ok = False
            continue
        wrong = []
        for label in ("baseline", "tuned"):
            ids = sorted(str(r.get("id")) for r in rows[label])
            if ids != sorted(truth):
                prompt_problems.append(f"regression.{check}.{label} did not answer the shipped {truth_name} prompts")
            total = 0.0
            for row in rows[label]:
                ref = truth.get(str(row.get("id")))
                if ref is None:
                    continue
                if check == "general":
                    reference, facts = str(ref.get("answer", "")), list(ref.get("key_facts") or [])
                    expected = score_answer(row["answer"], reference, facts)
                    total += expected["score"]
                    if not is_number(row.get("score")) or abs(row["score"] - expected["score"]) > TOLERANCE:
                        wrong.append(f"{label}/{row.get('id')}")
                elif row.get("refused") is not is_refusal(row["answer"]) or row.get("expect") != ref.get("expect"):
                    wrong.append(f"{label}/{row.get('id')}")
            if check == "general":
                rescored[label] = total / max(len(truth), 1)
        what = ("scores are not what the answers earn" if check == "general"
                else "refused flags do not match the answers")
        tally.check(scores_key, not wrong, lambda check=check, wrong=wrong, what=what: (
            f"regression.{check} {what} for {len(wrong)} rows (e.g. {', '.join(wrong[:3])}): re-run the spot-check."))
    if prompts_ok:
        tally.check("same_prompts", not prompt_problems, lambda: "; ".join(prompt_problems[:2]) + ".")
    else:
        tally.block("the spot-check prompts cannot be compared.", ("same_prompts",))
    guard = regression.get("forgetting_guard")
    tally.check("forgetting_guard", isinstance(guard, dict) and _guard_agrees(guard, regression, rescored, task),
                "regression.forgetting_guard is missing or its verdict is not what the rescored results give: "
                "apply workbook.evidence.results.add_forgetting_guard.")


def _guard_agrees(guard: dict[str, Any], regression: dict[str, Any], general: dict[str, float],
                  task: dict[str, Any] | None) -> bool:
    """The recorded verdict equals forgetting_guard on the trusted (rescored) task and general scores."""
    if task is None or set(general) != {"baseline", "tuned"}:
        return isinstance(guard.get("passed"), bool)  # no trusted numbers to compare with: the evaluation gate says why
    drop = regression.get("max_general_drop", 3.0)
    try:
        verdict = forgetting_guard(100 * task["baseline"]["score"], 100 * task["tuned"]["score"],
                                   100 * general["baseline"], 100 * general["tuned"],
                                   max_general_drop=float(drop) if is_number(drop) else 3.0)
    except (KeyError, TypeError, ValueError):
        return False
    return guard.get("passed") is verdict["passed"]


def _check_reproducibility(packet: Packet) -> GateResult:
    """10 checks: dataset record (with the locked set's sha256), model record, hyperparameters, integer seed, wall
    times, provenance (git commit and student id), the files table (every packet file listed with its current
    sha256, nothing else), training log matching the manifest's loss series, loss_curve.png plotting that log, and
    finite losses. The submitting student's id is checked by the grader on top (a copied packet scores 0)."""
    tally = _tally("reproducibility")
    manifest, error = packet.json("manifest.json")
    if error:
        tally.block(error)
        return tally.result()
    dataset = as_dict(manifest.get("dataset"))
    gaps = missing_keys(dataset, ("name", "version", "sha256", "locked_test_sha256"))
    locked, locked_error = packet.locked()
    if gaps:
        tally.check("dataset", False, f"manifest.json dataset lacks {', '.join(gaps)}.")
    else:
        tally.check("dataset", not locked_error and dataset.get("locked_test_sha256") == locked["sha256"],
                    "manifest.json dataset.locked_test_sha256 differs from the shipped locked test set.")
    model = as_dict(manifest.get("model"))
    gaps_model = [k for k in ("id", "revision") if k not in model]
    gaps_model += ["id"] if "id" in model and not model["id"] else []
    tally.check("model", not gaps_model, lambda: (
        f"manifest.json model lacks {', '.join(gaps_model)} (revision may be null for the offline model)."))
    hyper = as_dict(manifest.get("hyperparameters"))
    gaps_hyper = [k for k in HYPERPARAMETER_KEYS if k not in hyper]
    tally.check("hyperparameters", not gaps_hyper,
                lambda: f"manifest.json hyperparameters lack {', '.join(gaps_hyper)}.")
    tally.check("seed", isinstance(manifest.get("seed"), int) and not isinstance(manifest.get("seed"), bool),
                "manifest.json has no integer `seed`.")
    gaps_walls = missing_keys(as_dict(manifest.get("wall_times")), WALL_TIME_KEYS)
    tally.check("wall_times", not gaps_walls, lambda: f"manifest.json wall_times lack {', '.join(gaps_walls)}.")
    absent = [k for k in ("git_commit", "student_id") if not isinstance(manifest.get(k), str) or not manifest.get(k)]
    tally.check("provenance", not absent, lambda: f"manifest.json has no {', '.join(f'`{k}`' for k in absent)}.")
    problems = file_hash_problems(packet, manifest, PACKET_FILES)
    tally.check("files", not problems, lambda: " ".join(problems[:3]))
    _check_loss_curve(packet, manifest, tally)
    return tally.result()


def file_hash_problems(packet: Packet, manifest: dict[str, Any], packet_files: tuple[str, ...]) -> list[str]:
    """What is wrong with the manifest's files table (every one of `packet_files` but the manifest listed with its
    current sha256, nothing else); only those packet file names are ever opened (no paths)."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return ["manifest.json has no `files` table of packet files and their sha256."]
    problems = []
    unlisted = [name for name in packet_files if name != "manifest.json" and name not in files]
    if unlisted:
        problems.append(f"manifest.json files does not list {', '.join(unlisted)}.")
    foreign = [str(name)[:60] for name in files if name not in packet_files or name == "manifest.json"]
    if foreign:
        problems.append(f"manifest.json files lists {', '.join(foreign[:3])}, which are not packet files.")
    for name in (n for n in packet_files if n in files and n != "manifest.json"):
        digest, error = packet.sha256(name)
        if error:
            problems.append(f"manifest.json lists {name}, which is not in the packet or not readable ({error})")
        elif digest != files[name]:
            problems.append(f"{name} changed after the manifest was written (sha256 mismatch): re-run the final cells.")
    return problems


def _check_loss_curve(packet: Packet, manifest: dict[str, Any], tally: Tally) -> None:
    log, error = packet.jsonl("training_log.jsonl")
    if error:
        tally.block(error)
        return
    try:
        points = loss_points(log)
    except (TypeError, ValueError, OverflowError) as problem:
        tally.block(f"training_log.jsonl has a malformed step or loss ({problem}).")
        return
    if not points["loss"]:
        tally.block("training_log.jsonl has no train `loss` entries: set logging_steps so the trainer logs.")
        return
    curve = as_dict(manifest.get("loss_curve"))
    tally.check("log_matches_manifest", curve.get("points_sha256") == points_sha256(points),
                "training_log.jsonl does not match the loss series recorded in manifest.json loss_curve.")
    data, png_error = packet.bytes("loss_curve.png")
    if png_error:
        tally.check("curve_matches_log", False, f"{png_error} Plot it from the training log.")
    else:
        try:
            text = png_text_chunks(data).get(LOSS_POINTS_KEY, "null")
            embedded = untrusted.parse_json(text, "loss_curve.png points")
            matches = embedded is not None and points_sha256(embedded) == points_sha256(points)
            failure = ("loss_curve.png carries no plotted points: save it with "
                       "workbook.evidence.writers.save_loss_curve."
                       if embedded is None else
                       "loss_curve.png plots different points from training_log.jsonl: the curve contradicts the log.")
        except (ValueError, TypeError, AttributeError) as problem:
            matches, failure = False, f"loss_curve.png is not a readable PNG with plotted points ({problem})."
        tally.check("curve_matches_log", matches, failure)
    tally.check("finite_loss", all(math.isfinite(v) for _, v in points["loss"]),
                "training_log.jsonl has a non-finite loss (NaN or inf): the run diverged.")


def _check_failure_analysis(packet: Packet) -> GateResult:
    """3 checks: failure_checks against the locked test ids."""
    tally = _tally("failure_analysis")
    locked, locked_error = packet.locked()
    if locked_error:
        tally.block(locked_error)
        return tally.result()
    return failure_checks(tally, packet, set(locked["ids"]), ("the locked test set", "real locked test ids"),
                          "gdpr-01b")


def failure_checks(tally: Tally, packet: Packet, known: set[str], labels: tuple[str, str], example: str) -> GateResult:
    """3 checks: every case failure_analysis.md cites is one of `known`, at least MIN_FAILURE_CASES distinct known
    cases, and each has an explanation (`labels`: what `known` is, and what its ids are). Credit is then capped at
    (cases explained in the student's own words) / MIN_FAILURE_CASES: an auto-diagnosis left in place earns nothing
    (a note says so)."""
    text, error = packet.text("failure_analysis.md")
    if error:
        tally.block(error)
        return tally.result()
    cases = parse_failure_cases(text)
    real = [c for c in cases if c["id"] in known]
    unknown = [c["id"] for c in cases if c["id"] not in known]
    tally.check("known_ids", not unknown, lambda: (
        f"failure_analysis.md cites ids that are not in {labels[0]}: {', '.join(unknown[:5])}."))
    distinct = {c["id"] for c in real}
    tally.check("enough_cases", len(distinct) >= MIN_FAILURE_CASES, lambda: (
        f"failure_analysis.md has {len(distinct)} case(s) with {labels[1]}; at least "
        f"{MIN_FAILURE_CASES} are needed (headings like '## Case 1: {example}')."))
    empty = [c["id"] for c in real if len(c["explanation"]) < 20]
    tally.check("explained", not empty,
                lambda: f"failure_analysis.md cases without an explanation: {', '.join(empty)}.")
    auto = [c["id"] for c in real if c["auto_generated"]]
    if auto:
        tally.notes.append(
            f"{len(auto)} case(s) still carry the auto-diagnosis ({', '.join(auto)}): replace it with your own "
            "explanation and delete the AUTO-DIAGNOSIS line to earn the credit."
        )
    result = tally.result()
    own = len({c["id"] for c in real if not c["auto_generated"] and len(c["explanation"]) >= 20})
    if not result.failures:
        result.score = round(min(result.score, own / MIN_FAILURE_CASES, 1.0), 3)
    return result


def _adapter_folder_problem(adapter: dict[str, Any]) -> str | None:
    """On the student's own machine: a listed adapter folder that no longer matches its hash (absolute paths only)."""
    path = Path(str(adapter.get("path", "")))
    if path.is_absolute() and path.is_dir() and not path.is_symlink() and sha256_tree(path) != adapter.get("sha256"):
        return f"adapter {adapter.get('version')} at {path} no longer matches its recorded sha256."
    return None


def _check_rollback(packet: Packet, local: bool = False) -> GateResult:
    """4 checks: rollback.md records adapter hashes, says how to return to the base model, manifest.json lists the
    adapters, and every listed adapter is in rollback.md with its sha256 (on the student's own machine, with
    local=True, its folder must also still match; a grader never opens a path a packet names)."""
    tally = _tally("rollback")
    text, error = packet.text("rollback.md")
    if error:
        tally.block(error)
        return tally.result()
    hashes = set(SHA256.findall(text))
    tally.check("hashes", bool(hashes),
                "rollback.md records no adapter sha256: list every adapter version with its hash.")
    tally.check("base_model", "base model" in text.lower(), "rollback.md does not say how to return to the base model.")
    manifest, manifest_error = packet.json("manifest.json")
    if manifest_error:
        tally.block(manifest_error)
        return tally.result()
    adapters = manifest.get("adapters") if isinstance(manifest.get("adapters"), list) else []
    tally.check("adapters_listed", bool(adapters), "manifest.json lists no `adapters` (version, path, sha256).")
    problems = []
    for adapter in adapters:
        if not isinstance(adapter, dict) or adapter.get("sha256") not in hashes:
            problems.append(f"adapter {str(adapter)[:120]} from manifest.json is not in rollback.md with its sha256.")
        elif local:
            problems += [p for p in [_adapter_folder_problem(adapter)] if p]
    tally.check("adapters_documented", bool(adapters) and not problems,
                lambda: " ".join(problems[:2]) or "no adapters to document.")
    return tally.result()


_CHECKS: dict[str, Callable[[Packet], GateResult]] = {
    "environment": _check_environment,
    "baseline": _check_baseline,
    "evaluation": _check_evaluation,
    "regression": _check_regression,
    "reproducibility": _check_reproducibility,
    "failure_analysis": _check_failure_analysis,
    "rollback": _check_rollback,
}


def _lab_checks(lab: str) -> dict[str, Callable[[Packet], GateResult]]:
    if lab == "lab1":
        return _CHECKS
    from workbook.evidence import gates_lab2, gates_lab3  # they build on this module's checks

    return {"lab2": gates_lab2.CHECKS, "lab3": gates_lab3.CHECKS}[lab]


def _run(name: str, packet: Packet, lab: str = "lab1", local: bool = False) -> GateResult:
    try:
        return _check_rollback(packet, local) if name == "rollback" else _lab_checks(lab)[name](packet)
    except Exception as error:  # a packet shaped in a way no check foresaw must still give a report
        problem = f"{name}: the packet has an unexpected shape ({type(error).__name__}: {error})."
        return GateResult(name, False, 0.0, [problem])


def _section(evidence_dir: str | Path, lab: str) -> Path:
    """A later lab's section: `evidence_dir` itself when named after the lab, else the section inside it."""
    folder = Path(evidence_dir)
    return folder if lab == "lab1" or folder.name == lab else folder / lab


def _folder_problem(packet: Packet, lab: str) -> str | None:
    """Why a lab's section (and, after Lab 1, the evidence folder holding the earlier sections) cannot be read:
    each must be a plain folder (lstat: a link is never followed)."""
    if lab == "lab1":
        return None if packet.is_folder() else f"the evidence folder {packet.folder} does not exist: run the lab first."
    root = packet.folder.parent
    folders = [packet.folder, root] + ([root / "lab2"] if lab == "lab3" else [])
    for folder in folders:
        if not packet.related(folder).is_folder():
            return (f"the evidence folder {folder} does not exist or is not a plain folder: run the labs up to "
                    f"{lab} first (each later lab adds its section to Lab 1's evidence folder).")
    return None


def lab_of(name: str) -> str:
    """The lab a gate belongs to (gate names are unique across the labs)."""
    for lab, gates in LAB_GATES.items():
        if name in gates:
            return lab
    known = ", ".join(g for gates in LAB_GATES.values() for g in gates)
    raise ValueError(f"Unknown gate {name!r}: choose one of {known}.")


def check_gate(name: str, evidence_dir: str | Path, locked_test_path: str | Path | None = None) -> GateResult:
    """Check one gate of a packet (what an nbgrader test cell and the grader's re-check call). `evidence_dir` is
    the gate's lab section: Lab 1's evidence folder, or `evidence/lab2` / `evidence/lab3` (the evidence folder
    itself is taken to mean the section inside it)."""
    lab = lab_of(name)
    packet = Packet(_section(evidence_dir, lab), locked_test_path)
    problem = _folder_problem(packet, lab)
    if problem:
        return GateResult(name, False, 0.0, [problem])
    return _run(name, packet, lab)


def validate_packet(evidence_dir: str | Path, locked_test_path: str | Path | None = None,
                    local: bool = True, lab: str = "lab1") -> dict[str, GateResult]:
    """Every gate's verdict for one lab's section of the packet, in the lab's gate order. Never raises on a bad
    packet. `evidence_dir` as for check_gate.

    local=True (the student's self-check) also re-hashes the adapter folders a Lab 1 packet lists; graders use
    check_gate, which never opens a path a packet names."""
    if lab not in LAB_GATES:
        raise ValueError(f"Unknown lab {lab!r}: choose one of {', '.join(LAB_GATES)}.")
    packet = Packet(_section(evidence_dir, lab), locked_test_path)
    problem = _folder_problem(packet, lab)
    if problem:
        return {name: GateResult(name, False, 0.0, [problem]) for name in LAB_GATES[lab]}
    return {name: _run(name, packet, lab, local) for name in LAB_GATES[lab]}
