"""The seven gates of Lab 2's section of the packet (`evidence/lab2/`): the student's picks, the reward model, the
hash chain to Lab 1, the DPO evaluation, its regression checks, the failure analysis and reproducibility.

Each gate counts named checks with a Tally (one fault costs one check). What the grader holds is re-derived: the
prompts the pairs were made for (train.jsonl), the held-out human pairs (preference_pairs.jsonl, whose texts give
the longer-wins baseline), the locked test rows and every score on them, accuracies and win rates from their
per-pair numbers, every Wilson interval, and the link to Lab 1: the sha256 of the Lab 1 manifest's bytes and the
Lab 1 adapter DPO started from. Files are read only inside the Lab 2 section and the Lab 1 section holding it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbook.core.io import sha256_bytes
from workbook.evidence.gates import (
    failure_checks,
    file_hash_problems,
    locked_test_checks,
    reference_rows,
    regression_checks,
    training_start,
)
from workbook.evidence.packet import Packet, parse_time
from workbook.evidence.results import share_greater, wilson_interval, win_rate
from workbook.evidence.schema import (
    AUTO_MARKER,
    LAB2_FILES,
    LAB2_HYPERPARAMETER_KEYS,
    LAB2_PACKAGES,
    LAB2_WALL_TIME_KEYS,
    MIN_PICKS,
    PICKS_SOURCE,
    PREFERENCE_PAIRS,
    SFT_LABEL,
    TRAIN_SET,
    GateResult,
)
from workbook.evidence.tally import (
    Tally,
    as_dict,
    as_list,
    close,
    is_int,
    is_number,
    is_sha256,
    missing_keys,
    text,
    utc,
)
from workbook.topics.preferences import CHOICES, RECORD_KEYS

GATE_CHECKS: dict[str, tuple[str, ...]] = {
    "picks": ("keys", "choices", "unique_pairs", "provenance", "prompts", "timestamps", "before_training", "enough"),
    "reward_model": ("shape", "train_pairs", "heldout_pairs", "accuracy", "ci95", "baselines", "verdict",
                     "explained"),
    "dpo_lineage": ("lab", "previous_link", "start_adapter", "dpo_adapter", "same_model", "same_student"),
    "dpo_evaluation": ("ids", "locked_sha256", "references", "sft_scores", "dpo_scores", "aggregates",
                       "reward_win_rate", "human_win_rate", "kl", "after_training"),
    "dpo_regression": ("general", "general_scores", "refusal", "refusal_flags", "same_prompts", "forgetting_guard"),
    "dpo_failure_analysis": ("known_ids", "enough_cases", "explained"),
    "dpo_reproducibility": ("environment", "hyperparameters", "seed", "wall_times", "provenance", "files",
                            "training_log"),
}
SCORE_NAMES = {"baseline": "sft", "tuned": "dpo"}


def _tally(name: str) -> Tally:
    return Tally(name, GATE_CHECKS[name])


def lab1_section(packet: Packet) -> Packet:
    """The Lab 1 packet: the evidence folder that holds this section."""
    return packet.related(packet.folder.parent)


def heldout_pairs(packet: Packet) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
    """The shipped human-labelled held-out pairs (split "test"), the instructor's copy when grading."""
    rows, error = reference_rows(packet, PREFERENCE_PAIRS)
    if error:
        return None, error
    held = {i: r for i, r in rows.items() if r.get("split", "test") == "test"}
    return (held, None) if held else (None, f"the reference set {PREFERENCE_PAIRS} holds no held-out (test) pairs.")


def environment_problem(packet: Packet, packages: tuple[str, ...]) -> str | None:
    """What environment.json lacks: the runtime (workbook.core.runtime.detect()), an integer seed and the versions
    of `packages` (names compared with '-' and '_' alike)."""
    env, error = packet.json("environment.json")
    if error:
        return error
    versions = {str(k).lower().replace("-", "_"): v for k, v in as_dict(env.get("packages")).items()}
    lacking = missing_keys(env, ("platform", "python", "device", "packages"))
    lacking += [f"the {name} version" for name in packages if not versions.get(name)]
    lacking += [] if is_int(env.get("seed")) else ["an integer seed"]
    if lacking:
        return (f"environment.json lacks {', '.join(lacking)}: store workbook.core.runtime.detect() plus the seed "
                "(and the versions of the packages this lab uses).")
    return None


def chain_problem(manifest: dict[str, Any], lab: str, previous: Packet, previous_lab: str) -> str | None:
    """Why a manifest is not `lab`'s, linked to the previous lab's manifest as submitted (the sha256 of its bytes)."""
    before, this = (f"Lab {name.removeprefix('lab')}" for name in (previous_lab, lab))
    if manifest.get("lab") != lab:
        return f"manifest.json records lab {manifest.get('lab')!r}; {this}'s manifest says {lab!r}."
    data, error = previous.bytes("manifest.json")
    if error:
        return f"the {before} section cannot be read to follow the hash chain: {error}"
    digest, link = sha256_bytes(data), as_dict(manifest.get("previous"))
    if link.get("lab") != previous_lab or link.get("manifest_sha256") != digest:
        return (f"manifest.json previous is {link!r}, but {before}'s manifest.json now hashes to {digest[:12]}...: "
                f"the {before} packet changed after {this} ran (or {this} ran on another packet). Run {this} again.")
    return None


def _ab_picks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("choice") in ("A", "B")]


def _check_picks(packet: Packet) -> GateResult:
    """8 checks: every record has the picker's keys; each choice is A/B with two different non-empty answers, or a
    tie/skip with none; no pair judged twice; pairs from the Lab 1 model with a named annotator; every prompt a
    shipped training question (never a test or held-out one); ISO timestamps in the order picked; every pick made
    before DPO training started (it trained on them); at least MIN_PICKS A/B picks."""
    tally = _tally("picks")
    rows, error = packet.jsonl("picks.jsonl")
    if error:
        tally.block(error)
        return tally.result()
    if not rows:
        tally.block("picks.jsonl holds no picks: judge the pairs in the picker (or run the scripted annotator).")
        return tally.result()
    lacking = [n for n, r in enumerate(rows, 1) if any(k not in r for k in RECORD_KEYS)]
    tally.check("keys", not lacking, lambda: (
        f"picks.jsonl lines {', '.join(map(str, lacking[:5]))} lack some of {', '.join(RECORD_KEYS)}: save the "
        "picker's records unchanged."))
    bad = []
    for number, row in enumerate(rows, 1):
        choice, chosen, rejected = row.get("choice"), row.get("chosen"), row.get("rejected")
        if choice in ("A", "B"):
            ok = text(chosen) and text(rejected) and chosen != rejected
        else:
            ok = choice in CHOICES and chosen in (None, "") and rejected in (None, "")
        if not ok:
            bad.append(number)
    tally.check("choices", not bad, lambda: (
        f"picks.jsonl lines {', '.join(map(str, bad[:5]))}: an A/B pick needs two different answers as chosen and "
        "rejected, a tie or skip none, and the choice must be A, B, tie or skip."))
    ids = [str(r.get("pair_id")) for r in rows]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    tally.check("unique_pairs", not repeated, lambda: f"picks.jsonl judges pairs twice: {', '.join(repeated[:3])}.")
    foreign = [n for n, r in enumerate(rows, 1) if r.get("source") != PICKS_SOURCE or not text(r.get("annotator"))]
    tally.check("provenance", not foreign, lambda: (
        f"picks.jsonl lines {', '.join(map(str, foreign[:5]))}: every pair must come from your Lab 1 model "
        f"(source {PICKS_SOURCE!r}) and name its annotator (you, or 'scripted:<rule>')."))
    train, train_error = reference_rows(packet, TRAIN_SET)
    if train_error:
        tally.check("prompts", False, train_error)
    else:
        questions = {str(r.get("question")) for r in train.values()}
        strange = [n for n, r in enumerate(rows, 1) if not isinstance(r.get("prompt"), str)
                   or r["prompt"] not in questions]
        tally.check("prompts", not strange, lambda: (
            f"picks.jsonl lines {', '.join(map(str, strange[:5]))} have prompts that are not questions of the shipped "
            "training set (pairs are made for data/compliance/train.jsonl, never for test or held-out prompts)."))
    stamps = [parse_time(r.get("timestamp")) for r in rows]
    try:
        moments = [utc(s) for s in stamps if s]
        ordered = len(moments) == len(rows) and all(a <= b for a, b in zip(moments, moments[1:], strict=False))
    except TypeError:
        ordered = False
    if not tally.check("timestamps", ordered,
                       "picks.jsonl needs an ISO 8601 timestamp on every pick, in the order the picks were made."):
        tally.block("the picks' times are unknown, so they cannot be shown to precede training.", ("before_training",))
    else:
        started, source = training_start(packet)
        late = [str(r.get("pair_id")) for r, s in zip(rows, moments, strict=True)
                if r.get("choice") in ("A", "B") and (started is None or s > started)]
        tally.check("before_training", not late, lambda: (
            "no DPO training start time found (manifest wall_times.training_started_at or training log)."
            if started is None else
            f"{len(late)} picks were made after DPO training started ({source}, {started.isoformat()}), e.g. "
            f"{', '.join(late[:3])}: DPO never saw them; run the training cells again after picking."))
    count = len(_ab_picks(rows))
    tally.check("enough", count >= MIN_PICKS, lambda: (
        f"picks.jsonl has {count} A/B picks (ties and skips apart); at least {MIN_PICKS} are needed to train on."))
    return tally.result()


def _check_reward_model(packet: Packet) -> GateResult:
    """8 checks: the record's shape; train_pairs equal to the A/B picks; held-out rows exactly the shipped
    held-out pairs; accuracy re-derived from the per-pair rewards; its Wilson interval; both baselines re-derived
    (longer-wins from the shipped texts, base log-prob from the per-pair numbers); beats_baselines re-derived; and
    an explanation when it does not beat them (credit only for the student's own words, as failure analyses)."""
    tally = _tally("reward_model")
    record, error = packet.json("reward_model.json")
    if error:
        tally.block(error)
        return tally.result()
    heldout = as_dict(record.get("heldout"))
    per_pair = as_list(heldout.get("per_pair"))
    numbers = ("reward_chosen", "reward_rejected", "base_logprob_chosen", "base_logprob_rejected")
    shaped = (text(record.get("method")) and is_int(record.get("train_pairs")) and per_pair
              and all(isinstance(r, dict) and all(is_number(r.get(k)) for k in numbers) for r in per_pair)
              and isinstance(record.get("beats_baselines"), bool))
    if not tally.check("shape", shaped, (
            "reward_model.json needs method, train_pairs, heldout.per_pair rows with finite reward_chosen, "
            "reward_rejected, base_logprob_chosen and base_logprob_rejected, and beats_baselines (true/false).")):
        tally.block("the reward model's numbers cannot be re-derived.")
        return tally.result()
    picks, picks_error = packet.jsonl("picks.jsonl")
    count = None if picks_error else len(_ab_picks(picks))
    tally.check("train_pairs", count == record["train_pairs"], lambda: (
        picks_error or f"reward_model.json train_pairs is {record['train_pairs']}, but picks.jsonl holds {count} A/B "
        "picks: train the reward model on your picks."))
    held, held_error = heldout_pairs(packet)
    ids = [str(r.get("id")) for r in per_pair]
    if held_error:
        tally.check("heldout_pairs", False, held_error)
    else:
        same = sorted(ids) == sorted(held) and heldout.get("n") == len(per_pair)
        tally.check("heldout_pairs", same, lambda: (
            f"reward_model.json heldout rows ({len(ids)}, n={heldout.get('n')!r}) are not the {len(held)} shipped "
            f"held-out pairs of {PREFERENCE_PAIRS}, each once."))
    accuracy = share_greater([(r["reward_chosen"], r["reward_rejected"]) for r in per_pair])
    tally.check("accuracy", close(heldout.get("accuracy"), accuracy), lambda: (
        f"reward_model.json heldout.accuracy is {heldout.get('accuracy')!r}, but its per-pair rewards give "
        f"{accuracy:.4f} (share of pairs with reward_chosen > reward_rejected)."))
    interval = wilson_interval(accuracy, len(per_pair))
    ci = as_list(heldout.get("ci95"))
    tally.check("ci95", len(ci) == 2 and all(close(a, b) for a, b in zip(ci, interval, strict=False)), lambda: (
        f"reward_model.json heldout.ci95 is {ci!r}; the Wilson 95% interval of {accuracy:.4f} on {len(per_pair)} "
        f"pairs is {interval}."))
    base = share_greater([(r["base_logprob_chosen"], r["base_logprob_rejected"]) for r in per_pair])
    baselines = as_dict(record.get("baselines"))
    if held_error:
        tally.block(held_error, ("baselines", "verdict"))
        beats = record["beats_baselines"]
    else:
        longer = share_greater([(len(str(held[i].get("chosen", ""))), len(str(held[i].get("rejected", ""))))
                                for i in ids if i in held])
        tally.check("baselines", close(baselines.get("longer_wins"), longer) and close(
            baselines.get("base_logprob"), base), lambda: (
            f"reward_model.json baselines {baselines!r} are not what the held-out pairs give: longer_wins "
            f"{longer:.4f} (longer chosen answer, in characters), base_logprob {base:.4f} (the SFT model's "
            "per-pair log-probs)."))
        beats = accuracy > longer and accuracy > base
        tally.check("verdict", record["beats_baselines"] is beats, lambda: (
            f"reward_model.json beats_baselines is {record['beats_baselines']}, but accuracy {accuracy:.4f} against "
            f"longer-wins {longer:.4f} and base log-prob {base:.4f} says otherwise."))
    note = str(record.get("note") or "")
    tally.check("explained", beats or bool(note.replace(AUTO_MARKER, "").strip()), (
        "the reward model does not beat the baselines and reward_model.json `note` is empty: explain why."))
    result = tally.result()
    if not beats and AUTO_MARKER in note and tally.outcomes["explained"]:
        result.score = round(result.score - 1 / len(tally.planned), 3)
        result.notes.append("the reward model does not beat its baselines and `note` is still the pre-filled text: "
                            "replace it with your own explanation (delete the AUTO-DIAGNOSIS line) to earn the credit.")
    return result


def _check_lineage(packet: Packet) -> GateResult:
    """6 checks: the manifest is Lab 2's; `previous` names Lab 1 with the sha256 of Lab 1's manifest bytes as
    submitted; DPO started from the adapter Lab 1's manifest lists last; the DPO adapter is recorded with its
    sha256 and differs from the start; the same base model; the same student as Lab 1."""
    tally = _tally("dpo_lineage")
    manifest, error = packet.json("manifest.json")
    if error:
        tally.block(error)
        return tally.result()
    tally.check("lab", manifest.get("lab") == "lab2",
                f"manifest.json records lab {manifest.get('lab')!r}; Lab 2's manifest says 'lab2'.")
    start = as_dict(manifest.get("start_adapter"))
    dpo = [as_dict(a) for a in as_list(manifest.get("adapters"))]
    tally.check("dpo_adapter", bool(dpo) and all(text(a.get("version")) and is_sha256(a.get("sha256"))
                                                 for a in dpo) and dpo[-1].get("sha256") != start.get("sha256"),
                "manifest.json adapters must list the DPO adapter (version, sha256, path), with weights that differ "
                "from the Lab 1 adapter it started from.")
    lab1 = lab1_section(packet)
    lab1_manifest, lab1_error = lab1.json("manifest.json")
    if lab1_error:
        tally.block(f"the Lab 1 packet holding this section cannot be read: {lab1_error}")
        return tally.result()
    problem = chain_problem(dict(manifest, lab="lab2"), "lab2", lab1, "lab1")
    tally.check("previous_link", problem is None, problem or "")
    adapters = as_list(lab1_manifest.get("adapters"))
    last = as_dict(adapters[-1]) if adapters else {}
    tally.check("start_adapter", is_sha256(last.get("sha256")) and start.get("sha256") == last.get("sha256")
                and start.get("version") == last.get("version"), lambda: (
                    f"manifest.json start_adapter ({start.get('version')!r}, {str(start.get('sha256'))[:12]}) is not "
                    f"the adapter Lab 1 ended with ({last.get('version')!r}, {str(last.get('sha256'))[:12]})."))
    model, lab1_model = as_dict(manifest.get("model")).get("id"), as_dict(lab1_manifest.get("model")).get("id")
    tally.check("same_model", text(model) and model == lab1_model, lambda: (
        f"manifest.json model {model!r} is not Lab 1's base model {lab1_model!r}."))
    student, lab1_student = manifest.get("student_id"), lab1_manifest.get("student_id")
    tally.check("same_student", text(student) and student == lab1_student, lambda: (
        f"manifest.json student_id {student!r} differs from the Lab 1 packet's ({lab1_student!r}): both labs must "
        "be your own runs, in one evidence folder."))
    return tally.result()


def _win_rate_problem(label: str, record: Any, pairs: list[tuple[float, float]] | None, ids: list[str],
                      expected_ids: set[str] | None) -> str | None:
    """Why a recorded win rate does not follow from its per-item numbers (or covers the wrong items), or None."""
    record = as_dict(record)
    if pairs is None:
        return f"eval_results.json win_rate.{label} has no per-item rows with finite numbers."
    if expected_ids is not None and (sorted(ids) != sorted(expected_ids)):
        return f"eval_results.json win_rate.{label} does not cover the {len(expected_ids)} expected items, each once."
    truth = win_rate(pairs)
    off = [k for k in ("wins", "losses", "ties", "n") if record.get(k) != truth[k]]
    off += ["rate"] if not close(record.get("rate"), truth["rate"]) else []
    ci = as_list(record.get("ci95"))
    off += ["ci95"] if len(ci) != 2 or not all(close(a, b) for a, b in zip(ci, truth["ci95"], strict=False)) else []
    if off:
        return (f"eval_results.json win_rate.{label} {', '.join(off)} disagree with its per-item numbers (they give "
                f"{truth['wins']}/{truth['losses']}/{truth['ties']} of {truth['n']}, rate {truth['rate']}, Wilson "
                f"95% {truth['ci95']}).")
    return None


def _pairs(rows: Any, new: str, old: str) -> tuple[list[tuple[float, float]] | None, list[str]]:
    rows = as_list(rows)
    if not rows or not all(isinstance(r, dict) and is_number(r.get(new)) and is_number(r.get(old)) for r in rows):
        return None, []
    return [(r[new], r[old]) for r in rows], [str(r.get("id")) for r in rows]


def _check_evaluation(packet: Packet) -> GateResult:
    """10 checks: the locked test re-scored (Lab 1's six checks on `locked_test`, SFT as baseline and DPO as
    tuned), the reward-model win rate over the locked-test prompts and the human-label win rate over the held-out
    pairs (both re-derived from their per-item numbers, with Wilson intervals), a KL record against the Lab 1 SFT
    model, and results generated after DPO training started."""
    tally = _tally("dpo_evaluation")
    results, error = packet.json("eval_results.json")
    if error:
        tally.block(error)
        return tally.result()
    rates = as_dict(results.get("win_rate"))
    locked_test_checks(tally, packet, as_dict(results.get("locked_test")), "eval_results.json locked_test",
                       SCORE_NAMES)
    locked, locked_error = packet.locked()
    pairs, ids = _pairs(as_dict(rates.get("reward_model")).get("per_prompt"), "reward_dpo", "reward_sft")
    problem = locked_error or _win_rate_problem("reward_model", rates.get("reward_model"), pairs, ids,
                                                set(locked["ids"]))
    tally.check("reward_win_rate", problem is None, problem or "")
    held, held_error = heldout_pairs(packet)
    human = as_dict(rates.get("human_labels"))
    pairs, ids = _pairs(human.get("per_pair"), "margin_dpo", "margin_sft")
    problem = held_error or _win_rate_problem("human_labels", human, pairs, ids, set(held or {}))
    if problem is None and not text(human.get("definition")):
        problem = "eval_results.json win_rate.human_labels needs its `definition` (what counts as a win)."
    tally.check("human_win_rate", problem is None, problem or "")
    kl = as_dict(results.get("kl"))
    tally.check("kl", is_number(kl.get("mean_token_kl")) and is_int(kl.get("n_prompts")) and kl["n_prompts"] > 0
                and kl.get("reference") == SFT_LABEL, lambda: (
                    f"eval_results.json kl {kl!r} needs a finite mean_token_kl, a positive n_prompts and reference "
                    f"{SFT_LABEL!r} (the Lab 1 SFT model)."))
    generated = parse_time(results.get("generated_at"))
    started, source = training_start(packet)
    tally.check("after_training", generated is not None and started is not None and utc(generated) >= started, (
        f"eval_results.json generated_at ({results.get('generated_at')!r}) must be an ISO time after DPO training "
        f"started ({source or 'unknown'}): evaluate the trained model."))
    return tally.result()


def _check_regression(packet: Packet) -> GateResult:
    """6 checks: Lab 1's regression checks on eval_results.json `regression` (SFT as baseline, DPO as tuned), the
    forgetting guard recomputed from the re-scored locked test and general sets."""
    tally = _tally("dpo_regression")
    results, error = packet.json("eval_results.json")
    if error:
        tally.block(error)
        return tally.result()
    locked_test = as_dict(results.get("locked_test"))
    scored = Tally("dpo_evaluation", GATE_CHECKS["dpo_evaluation"])
    trusted = locked_test_checks(scored, packet, locked_test, names=SCORE_NAMES) and not scored.failures
    regression_checks(tally, packet, results.get("regression"), as_dict(locked_test.get("aggregate"))
                      if trusted else None)
    return tally.result()


def _check_failure_analysis(packet: Packet) -> GateResult:
    """3 checks: Lab 1's failure-analysis checks, cases cited by locked test id or held-out pair id."""
    tally = _tally("dpo_failure_analysis")
    locked, locked_error = packet.locked()
    held, held_error = heldout_pairs(packet)
    if locked_error or held_error:
        tally.block(locked_error or held_error)
        return tally.result()
    known = set(locked["ids"]) | set(held)
    return failure_checks(tally, packet, known, ("the locked test set or the held-out pairs",
                                                 "locked test or held-out pair ids"), "gdpr-01b")


def _check_reproducibility(packet: Packet) -> GateResult:
    """7 checks: environment.json (runtime, package versions, integer seed), every DPO hyperparameter, the seed
    (integer, equal to the environment's), wall times, provenance (git commit, student id, FAST flag), the files
    table (every section file with its current sha256, nothing else) and a training log with finite losses. The
    submitting student's id is checked by the grader on top (a copied packet scores 0)."""
    tally = _tally("dpo_reproducibility")
    manifest, error = packet.json("manifest.json")
    if error:
        tally.block(error)
        return tally.result()
    env, env_error = packet.json("environment.json")
    problem = environment_problem(packet, LAB2_PACKAGES)
    tally.check("environment", problem is None, problem or "")
    hyper = as_dict(manifest.get("hyperparameters"))
    lacking = [k for k in LAB2_HYPERPARAMETER_KEYS if k not in hyper]
    tally.check("hyperparameters", not lacking and is_number(hyper.get("beta")) and hyper["beta"] > 0, lambda: (
        f"manifest.json hyperparameters lack {', '.join(lacking) or 'a positive beta'}."))
    seed = manifest.get("seed")
    tally.check("seed", is_int(seed) and (env_error is not None or env.get("seed") == seed), lambda: (
        f"manifest.json seed {seed!r} must be an integer, the seed environment.json records."))
    walls = as_dict(manifest.get("wall_times"))
    bad = [k for k in LAB2_WALL_TIME_KEYS if k not in walls
           or not (parse_time(walls[k]) if k.endswith("_at") else is_number(walls[k]) and walls[k] >= 0)]
    tally.check("wall_times", not bad, lambda: f"manifest.json wall_times lack valid {', '.join(bad)}.")
    absent_fields = [k for k in ("git_commit", "student_id") if not text(manifest.get(k))]
    absent_fields += [] if isinstance(manifest.get("fast"), bool) else ["fast"]
    tally.check("provenance", not absent_fields, lambda: (
        f"manifest.json has no {', '.join(f'`{k}`' for k in absent_fields)}."))
    problems = file_hash_problems(packet, manifest, LAB2_FILES)
    tally.check("files", not problems, lambda: " ".join(problems[:3]))
    log, log_error = packet.jsonl("training_log.jsonl")
    losses = [r.get("loss") for r in log or [] if "loss" in r]
    tally.check("training_log", not log_error and bool(losses) and all(is_number(v) for v in losses), lambda: (
        log_error or "training_log.jsonl needs the trainer's logged `loss` values, all finite (none logged, or a "
        "NaN/inf: the run diverged)."))
    return tally.result()


CHECKS: dict[str, Callable[[Packet], GateResult]] = {
    "picks": _check_picks,
    "reward_model": _check_reward_model,
    "dpo_lineage": _check_lineage,
    "dpo_evaluation": _check_evaluation,
    "dpo_regression": _check_regression,
    "dpo_failure_analysis": _check_failure_analysis,
    "dpo_reproducibility": _check_reproducibility,
}
